"""Webhook acknowledgement latency and end-to-end turn throughput, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/webhooks.py [--backends sqlite,postgresql] [--requests 1000] [--rate 200]

For each backend the script starts the app in a separate process under a real WSGI server (gunicorn by
default, or werkzeug's threaded server) and the workers (a separate `motcua worker` process by default),
a Zalo stand-in for the replies, and then, from this process,
sends signed Zalo `user_send_text` webhooks with Vietnamese questions at a fixed rate over loopback
(plus 5 % platform retries of the same event). It reports acknowledgements per second, p50/p99 ack
latency, lost and duplicated turns, processed turns per second, and the NLU server's own parse throughput
measured in the same run (POST /model/parse directly, same concurrency as the workers; the mean of a
measurement right before and one right after the backend's run), and the ratio; then the CPU each
process used per turn (NLU server, web server, workers, database server, stand-in, this load generator).
Bounded: a fixed request count and a time limit; everything it starts is stopped at the end.
`--nlu-hang`: the app's NLU server accepts connections and never answers (a hung server), to show that
acknowledgements never wait behind a turn (turns are not waited for; only the ack figures count).
Needs the NLU server (RASA_URL, default http://127.0.0.1:5005; `make nlu-server`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.channels.conftest import ZALO_APP_ID, ZALO_OA_SECRET, zalo_body, zalo_headers  # noqa: E402
from tests.channels.standins import ZaloStandIn  # noqa: E402

QUESTIONS = [
    "Cho tôi hỏi thủ tục đăng ký khai sinh cần giấy tờ gì",
    "Lệ phí đăng ký kết hôn là bao nhiêu vậy em",
    "Làm giấy chứng nhận độc thân mất bao lâu",
    "Trung tâm mở cửa mấy giờ",
    "Tôi muốn tra cứu hồ sơ 000.00.12.H29-240531-0001",
    "Xin chào",
    "Đăng ký thường trú cần mang theo những gì",
    "Tôi muốn gặp cán bộ",
    "Cảm ơn em nhiều",
    "Chứng thực bản sao giấy tờ ở đâu",
]
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


# ------------------------------------------------------------------------------------- server process


def serve(port: int) -> None:
    """Child process: the app with its embedded workers under werkzeug's threaded WSGI server."""
    import logging

    from werkzeug.serving import make_server

    from bot.app import create_app
    from bot.logging import setup_logging

    setup_logging()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("bot.pipeline").setLevel(logging.WARNING)
    logging.getLogger("connectors").setLevel(logging.WARNING)
    app = create_app()
    server = make_server("127.0.0.1", port, app, threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    runner = app.extensions.get("motcua.runner")
    if runner:
        runner.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------- NLU baseline


def nlu_throughput(rasa_url: str, concurrency: int, seconds: float) -> float:
    """Parses per second the NLU server sustains on its own, at the workers' concurrency."""
    done: list[int] = []
    stop = time.monotonic() + seconds

    def loop() -> None:
        http = requests.Session()
        count = 0
        while time.monotonic() < stop:
            try:
                http.post(f"{rasa_url}/model/parse", json={"text": random.choice(QUESTIONS)},
                          timeout=10).raise_for_status()
            except requests.RequestException:
                continue  # not counted
            count += 1
        done.append(count)

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


# ------------------------------------------------------------------------------------- one backend


def database_for(backend: str, tmp: Path) -> tuple[str, Any]:
    """A fresh database URL, and a cleanup callable."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", drop


# ------------------------------------------------------------------------------------- CPU accounting

CPU_ROLES = (  # (role, test on the command line); first match wins
    ("nlu", lambda cmd: "rasa" in cmd),
    ("stand-in", lambda cmd: "--standin" in cmd),
    ("worker", lambda cmd: "bot.cli worker" in cmd or "bot.cli\0worker" in cmd),
    ("web", lambda cmd: "gunicorn" in cmd or "--serve" in cmd),
    ("database", lambda cmd: cmd.startswith("postgres")),
)


def cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by each role's processes on this machine (Linux /proc), plus this client."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = "load" if int(entry) == os.getpid() else next(
            (name for name, test in CPU_ROLES if test(cmd)), None)
        if role:
            totals[role] = totals.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    with open("/proc/stat") as f:  # the whole machine: busy = all but idle and iowait
        ticks = [int(v) for v in f.readline().split()[1:]]
    totals["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return totals


def run_standin(port: int) -> None:
    """Child process: the Zalo OpenAPI stand-in, so its work does not load the client process."""
    ZaloStandIn(app_id=ZALO_APP_ID).start(port)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def standin_stats(url: str) -> dict[str, int]:
    return requests.get(f"{url}/_stats", timeout=5).json()  # type: ignore[no-any-return]


def wait_until(ready: Any, what: str, process: subprocess.Popen[Any], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.2)


def run_backend(backend: str, args: argparse.Namespace, measure_run: Any = None,
                extra_env: dict[str, str] | None = None, script: str = __file__) -> dict[str, Any]:
    """Start the stand-in, the app and its workers on a fresh database of `backend`, run `measure_run`
    (default: this script's webhook load), and stop everything. `script` serves the stand-in (--standin)."""
    zalo = ZaloStandIn(app_id=ZALO_APP_ID)  # the defaults the stand-in process uses
    zalo_url = f"http://127.0.0.1:{free_port()}"
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    standin = subprocess.Popen([sys.executable, script, "--standin", zalo_url.rsplit(":", 1)[1]], cwd=ROOT)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    wait_until(lambda: standin_stats(zalo_url), "the Zalo stand-in", standin)
    tmp = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    db_url, cleanup = database_for(backend, tmp)
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": db_url, "RASA_URL": args.rasa_url,
        "FILES_DIR": str(tmp / "files"), "WORKER_THREADS": str(args.processors or ""),  # "": the app's
        "EMBEDDED_WORKERS": "true" if args.mode == "embedded" else "false",
        "ZALO_APP_ID": ZALO_APP_ID, "ZALO_APP_SECRET": zalo.app_secret, "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
        "ZALO_ACCESS_TOKEN": zalo.access_token, "ZALO_REFRESH_TOKEN": zalo.refresh_token,
        "ZALO_API_BASE": zalo_url, "ZALO_OAUTH_BASE": zalo_url, "FACEBOOK_APP_SECRET": "",
        "LOG_LEVEL": "WARNING", "INBOX_SPOOL": "false" if args.no_spool else "true",
        **(extra_env or {}),
    }
    from bot.db import make_engine, upgrade

    migrate = make_engine(db_url)
    upgrade(migrate)  # once, before several server processes start
    migrate.dispose()
    if args.server == "gunicorn":  # the production WSGI server: pre-forked processes, threads in each
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-w", str(args.web_processes), "-k", "gthread", "--threads", "8",
                   "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bot.wsgi:app"]
    else:
        command = [sys.executable, __file__, "--serve", str(port)]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    children = [server, standin]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).ok:  # it asks the NLU (up to 2 s)
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.2)
        if args.mode == "separate":  # `motcua worker` processes beside the web process (scale-out setup)
            for _ in range(args.worker_processes):
                # niced: turns are throughput work, acknowledgements are latency work (platform deadlines)
                children.append(subprocess.Popen(
                    ["nice", "-n", str(args.worker_nice), sys.executable, "-m", "bot.cli", "worker",
                     *(["--processors", str(args.processors)] if args.processors else []),
                     "--dispatchers", "1"],
                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL))
        return (measure_run or measure)(base, db_url, zalo_url, args)
    finally:
        for child in children:
            child.send_signal(signal.SIGINT if child not in (server, standin) else signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        cleanup()


def settle(engine: Any, seconds: float, expect_done: int = 0) -> bool:
    """Wait until every stored event is processed and every reply sent; False if the time limit passed.

    `expect_done`: also wait until that many events are done. With the SQLite spool an event reaches
    `inbound_event` only when a worker imports it, so "nothing open" alone is also true before the
    worker process has started.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            open_events = conn.execute(text(
                "SELECT count(*) FROM inbound_event WHERE status IN ('pending','processing')")).scalar()
            open_outbox = conn.execute(text(
                "SELECT count(*) FROM outbox_message WHERE status IN ('pending','sending')")).scalar()
            done = conn.execute(text("SELECT count(*) FROM inbound_event WHERE status = 'done'")).scalar()
        if not open_events and not open_outbox and (done or 0) >= expect_done:
            return True
        time.sleep(0.25)
    return False


def warm_up(base: str, engine: Any, seconds: float) -> None:
    """A few turns from other citizens before measuring: worker start-up, connections, caches.

    Waits until the worker has processed them all, so its start-up is not inside the measured span.
    """
    http = requests.Session()
    questions = QUESTIONS * 2
    for n, question in enumerate(questions):
        body = zalo_body(text=question, msg_id=f"warm-{n}", user=str(7_000_000_000_000_000_000 + n))
        answer = http.post(f"{base}/webhooks/zalo", data=body, headers=zalo_headers(body), timeout=10)
        answer.raise_for_status()
    if not settle(engine, seconds, expect_done=len(questions)):
        raise RuntimeError("the warm-up turns were not processed: is the worker running?")


class LoadConnection:
    """A minimal keep-alive HTTP/1.1 client for the load: requests encoded beforehand, answers read just
    enough (status line, Content-Length, Connection). http.client parsed each answer's headers with the
    email package, ~0.5 ms of CPU per request on the same two cores as the system under test."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    @staticmethod
    def encode(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def post(self, request: bytes) -> int:
        """Send one encoded request; the answer's status code."""
        if self.sock is None:
            self.sock, self.buffer = socket.create_connection(self.address, timeout=10), b""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._receive()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        while len(rest) < length:
            rest += self._receive()
        self.buffer = rest[length:]
        if close:
            self.close()
        return int(status_line.split()[1])

    def _receive(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""


def sample_cpu(timeline: list[tuple[float, dict[str, float]]], stop: threading.Event, t0: float) -> None:
    """Every half second: the cores each role used since the last sample (--timeline)."""
    previous, at = cpu_by_role(), time.monotonic()
    while not stop.wait(0.5):
        current, now = cpu_by_role(), time.monotonic()
        timeline.append((now - t0, {role: (current[role] - previous.get(role, 0.0)) / (now - at)
                                    for role in current}))
        previous, at = current, now


def print_timeline(timeline: list[tuple[float, dict[str, float]]], processed: list[Any], first: Any) -> None:
    """Where the run's time went: cores by role per half second, then turns done in each second."""
    for at, cores in timeline:
        used = " ".join(f"{role} {share:.2f}" for role, share in sorted(cores.items()))
        print(f"  t={at:5.1f}s cores: {used}")
    if processed and first:
        per_second: dict[int, int] = {}
        for stamp in processed:
            second = int((stamp - first).total_seconds())
            per_second[second] = per_second.get(second, 0) + 1
        print("  turns done in each second:", [per_second.get(n, 0) for n in range(max(per_second) + 1)])


def measure(base: str, db_url: str, zalo_url: str, args: argparse.Namespace) -> dict[str, Any]:
    users = [str(8_000_000_000_000_000_000 + n) for n in range(args.users)]
    bodies: list[bytes] = []
    for n in range(args.requests):
        body = zalo_body(text=random.choice(QUESTIONS), msg_id=f"bench-{n}", user=users[n % len(users)])
        bodies.append(body)
    retries = random.sample(range(args.requests), args.requests // 20)
    schedule = [(i / args.rate, bodies[i]) for i in range(args.requests)]
    schedule += [((i + 10) / args.rate, bodies[i]) for i in retries]  # platform retries of the same event
    schedule.sort(key=lambda item: item[0])
    jobs: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
    for job in schedule:
        jobs.put(job)
    latencies: list[float] = []
    sent_at: list[float] = []  # seconds from the start, per request (as latencies)
    failures: list[int] = []
    lock = threading.Lock()
    host, port = base.rsplit("/", 1)[1].split(":")
    # signing and encoding are not part of the measured time
    encoded = {body: LoadConnection.encode(host, int(port), "/webhooks/zalo", body, zalo_headers(body))
               for body in bodies}
    engine = create_engine(db_url)
    if not args.nlu_hang:  # with a hung NLU no turn that needs it finishes
        warm_up(base, engine, args.time_limit)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM inbound_event")).scalar() or 0
    cpu_before, cpu_since = cpu_by_role(), time.monotonic()
    t0 = time.monotonic() + 0.2

    def client() -> None:
        http = LoadConnection(host, int(port))
        while (job := jobs.get()) is not None:
            at, body = job
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            started = time.perf_counter()
            try:
                status = http.post(encoded[body])
            except OSError:
                http.close()
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                sent_at.append(time.monotonic() - elapsed - t0)
                if status != 200:
                    failures.append(status)

    timeline: list[tuple[float, dict[str, float]]] = []
    sampling = threading.Event()
    sampler = threading.Thread(target=sample_cpu, args=(timeline, sampling, t0), daemon=True)
    if args.timeline:
        sampler.start()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        jobs.put(None)
        t.start()
    for t in threads:
        t.join()
    ack_seconds = time.monotonic() - t0

    settle(engine, 2.0 if args.nlu_hang else args.time_limit)
    sampling.set()
    cpu_after, cpu_seconds = cpu_by_role(), time.monotonic() - cpu_since
    cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
    busy = cpu.pop("machine")
    cpu["other"] = busy - sum(cpu.values())  # kernel threads, other services
    from sqlalchemy import select

    from bot.models import InboundEvent, Message, OutboxMessage

    with Session(engine) as session:
        rows = session.execute(select(InboundEvent.event_id, InboundEvent.status, InboundEvent.received_at,
                                      InboundEvent.processed_at).where(InboundEvent.id > before)).all()
        inbound_ids = list(session.scalars(select(Message.body).where(Message.direction == "in")))
        sent = len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all())
    engine.dispose()
    done = [r for r in rows if r.status == "done"]
    stamps = sorted(r.processed_at for r in done if r.processed_at)
    first = min((r.received_at for r in rows), default=None)
    span = (stamps[-1] - first).total_seconds() if stamps and first else float("nan")
    if args.timeline:
        sampler.join()
        print_timeline(timeline, [r.processed_at for r in done if r.processed_at], first)
        slowest = sorted(zip(latencies, sent_at, strict=True), reverse=True)[:12]
        print("  slowest acks (ms @ s from the start):",
              " ".join(f"{latency * 1000:.0f}@{at:.2f}" for latency, at in slowest))
    seen: dict[str, int] = {}
    for body in inbound_ids:
        seen[body.get("message_id")] = seen.get(body.get("message_id"), 0) + 1
    expected = {f"bench-{n}" for n in range(args.requests)}
    lost = len(expected - set(seen)) + sum(1 for r in rows if r.status not in ("done",))
    duplicated = sum(count - 1 for count in seen.values() if count > 1)
    return {
        "acks_per_s": len(latencies) / ack_seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "non_200": len(failures),
        "stored": len(rows),
        "lost": lost,
        "duplicated": duplicated,
        "turns_per_s": len(done) / span if span else float("nan"),
        "replies_sent": sent,
        "replies_at_platform": standin_stats(zalo_url)["sends"],
        "cpu_ms_per_turn": {role: used * 1000 / max(len(done), 1) for role, used in sorted(cpu.items())},
        "machine_busy": busy / (cpu_seconds * (os.cpu_count() or 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--standin", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP connections")
    parser.add_argument("--processors", type=int, default=4, help="event threads per worker process")
    parser.add_argument("--mode", choices=("separate", "embedded"), default="separate",
                        help="workers in `motcua worker` processes, or as threads inside the web process")
    parser.add_argument("--worker-processes", type=int, default=1, help="`motcua worker` processes")
    parser.add_argument("--no-spool", action="store_true", help="SQLite without INBOX_SPOOL")
    parser.add_argument("--worker-nice", type=int, default=10, help="niceness of the worker processes")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--web-processes", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--timeline", action="store_true",
                        help="print the cores each process used every half second, and turns per second")
    parser.add_argument("--nlu-seconds", type=float, default=8.0)
    parser.add_argument("--time-limit", type=float, default=180.0, help="seconds to wait for the turns")
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    parser.add_argument("--nlu-hang", action="store_true",
                        help="the app's NLU server never answers: ack latency while turns are stuck")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.standin:
        run_standin(args.standin)
        return
    nlu_server = None
    if not nlu_ready(args.rasa_url):
        nlu_server, args.rasa_url = start_nlu()
    try:
        run_all(args)
    finally:
        if nlu_server is not None:
            nlu_server.terminate()
            nlu_server.wait(timeout=60)


@contextlib.contextmanager
def hung_server() -> Iterator[str]:
    """An HTTP address that accepts connections and reads requests but never answers (a hung NLU)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def nlu_ready(url: str) -> bool:
    try:
        return bool(requests.get(f"{url}/status", timeout=2).json().get("model_file"))
    except (requests.RequestException, ValueError):
        return False


def start_nlu() -> tuple[subprocess.Popen[Any], str]:
    """No NLU server at RASA_URL: start our own on a free port with the trained model (up to 3 min)."""
    rasa, model = ROOT / ".venv-rasa" / "bin" / "rasa", ROOT / "models" / "nlu.tar.gz"
    if not rasa.exists() or not model.exists():
        sys.exit("no NLU server at RASA_URL and no trained model: run `make setup` first")
    url = f"http://127.0.0.1:{(port := free_port())}"
    print(f"starting an NLU server on {url} ...", flush=True)
    process = subprocess.Popen([str(rasa), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port), "-m",
                                str(model)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_until(lambda: nlu_ready(url), "the NLU server", process, seconds=180)
    return process, url


def run_all(args: argparse.Namespace) -> None:
    print(f"{args.requests} signed Zalo webhooks at {args.rate:.0f}/s (+5 % retries), {args.users} citizens, "
          f"{args.processors} event threads ({args.mode} workers)\n"
          "targets: 200 acks/s, p99 <= 50 ms, no loss or duplicate, turns/s >= 80 % of the NLU's parses/s")
    header = (f"{'backend':<11}{'acks/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non200':>7}{'lost':>6}{'dup':>5}"
              f"{'turns/s':>9}{'nlu/s':>8}{'ratio':>7}{'sent':>7}")
    print(header)
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        threads = args.processors * (args.worker_processes if args.mode == "separate" else 1)
        # This machine's speed drifts by tens of percent from minute to minute: the NLU's own throughput
        # is measured right before and right after the backend's run, and the mean is the reference.
        if args.nlu_hang:
            with hung_server() as hung_url:
                result = run_backend(backend, args, extra_env={"RASA_URL": hung_url})
            print(f"{backend:<11}{result['acks_per_s']:>8.1f}{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"
                  f"{result['non_200']:>7}  (NLU hung: {result['stored']} events stored, turns not awaited)",
                  flush=True)
            continue
        nlu_before = nlu_throughput(args.rasa_url, threads, args.nlu_seconds / 2)
        result = run_backend(backend, args)
        nlu_after = nlu_throughput(args.rasa_url, threads, args.nlu_seconds / 2)
        nlu = (nlu_before + nlu_after) / 2
        ratio = result["turns_per_s"] / nlu if nlu else float("nan")
        print(f"{backend:<11}{result['acks_per_s']:>8.1f}{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"
              f"{result['non_200']:>7}{result['lost']:>6}{result['duplicated']:>5}{result['turns_per_s']:>9.1f}"
              f"{nlu:>8.1f}{ratio:>7.0%}{result['replies_sent']:>7}", flush=True)
        print(f"  NLU parses/s before {nlu_before:.1f}, after {nlu_after:.1f}; machine busy "
              f"{result['machine_busy']:.0%}; CPU ms per turn, by process: "
              + ", ".join(
            f"{role} {ms:.2f}" for role, ms in result["cpu_ms_per_turn"].items()), flush=True)
        if result["replies_sent"] != result["replies_at_platform"]:
            print(f"  warning: {result['replies_at_platform']} replies reached the stand-in, "
                  f"{result['replies_sent']} recorded as sent")


if __name__ == "__main__":
    main()
