"""Throughput on a form-filling mix: citizens completing the khai sinh flow over signed Zalo webhooks.

    .venv/bin/python benchmarks/forms.py [--backends sqlite,postgresql] [--citizens 40]

For each backend: the app under gunicorn (SQLite: the embedded default, one process with the workers inside;
PostgreSQL: two web processes and a separate `motcua worker`), the real NLU server, a Zalo stand-in for the
replies and a local stand-in CDN for the photos (the set-up of benchmarks/webhooks.py).
All citizens start at once; each answers the bot's question as soon as its first reply to the previous
message reached the Zalo stand-in: the khai sinh button, consent, names, ID numbers, a phone number, choices
by button, dates, places and addresses, a photo of the birth certificate, the confirmation (the whole
official form: tờ khai đăng ký khai sinh, data/forms/to_khai_khai_sinh.yml).
Reported: processed turns per second divided by the NLU server's own parse rate (measured right before and
right after the backend's run, the mean is the reference; target >= 1.5), NLU parses per turn (target
<= 0.3), dossiers submitted, and the CPU milliseconds each process used per turn.
Needs the NLU server (RASA_URL, default http://127.0.0.1:5005; `make nlu-server`).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchmarks import webhooks  # noqa: E402
from bot.models import Dossier, InboundEvent, OutboxMessage  # noqa: E402
from connectors.zalo import PAYLOAD_PREFIX  # noqa: E402
from flows.context import payload  # noqa: E402
from tests.channels.conftest import ZALO_APP_ID, zalo_body, zalo_headers  # noqa: E402
from tests.channels.standins import Call, ZaloStandIn  # noqa: E402
from tests.dialogue.chat import png, serve_files  # noqa: E402

PHOTO = png(800, 600)
FIRST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
MIDDLE = ["Thị", "Văn", "Minh", "Thu", "Quang", "Ngọc", "Hữu", "Thanh"]
LAST = ["Hoa", "Lan", "Nam", "Hùng", "Mai", "Khang", "An", "Bình", "Phúc", "Trang"]
PLACES = ["Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng", "Bệnh viện Phụ sản Hà Nội",
          "Bệnh viện đa khoa tỉnh Thái Bình", "Trung tâm Y tế huyện Gia Lâm, Hà Nội"]
ADDRESSES = ["Số 5 ngõ 10 đường Lê Lợi, xã Hòa Bình, tỉnh Phú Thọ", "Thôn Đông, xã Tân Lập, thành phố Hà Nội",
             "Tổ dân phố 3, phường Láng, thành phố Hà Nội"]
HOMETOWNS = ["xã Tiên Lãng, thành phố Hải Phòng", "xã Hòa Bình, tỉnh Phú Thọ", "xã Vũ Thư, tỉnh Hưng Yên"]


def pressed(raw: str) -> str:
    """What a Zalo button sends back: its payload, as text with the connector's prefix."""
    return PAYLOAD_PREFIX + raw


def script(n: int, cdn: str) -> list[tuple[str, str]]:
    """One citizen's messages, in order: (kind, text or photo URL)."""
    def name(k: int) -> str:
        return f"{FIRST[(n + k) % 8]} {MIDDLE[(n * 3 + k) % 8]} {LAST[(n * 7 + k) % 10]}"

    def id_number(k: int) -> str:
        return f"0010{9 - k % 2}{n % 10}{(n * 37 + k * 11) % 1_000_000:06d}"

    def choose(value: str) -> tuple[str, str]:
        return "text", pressed(payload("choose", value=value))

    return [
        ("text", pressed(payload("submit_dossier", procedure="1.001193"))),
        ("text", pressed("consent:yes")),
        ("text", pressed(payload("card", do="type"))),  # the ID card photo offer: typed instead
        ("text", name(0)),
        ("text", id_number(0)),
        ("text", f"09{(1, 3, 4, 6, 8)[n % 5]}{(n * 7919) % 10_000_000:07d}"),
        ("text", ADDRESSES[n % len(ADDRESSES)]),
        choose("Mẹ"),
        choose("Trẻ sinh ra bình thường"),
        ("text", name(1)),
        ("text", f"{1 + n % 27:02d}/{1 + n % 10:02d}/2026"),
        choose("Nam" if n % 2 else "Nữ"),
        ("text", "Kinh"),
        ("text", "Việt Nam"),
        ("text", PLACES[n % len(PLACES)]),
        ("text", HOMETOWNS[n % len(HOMETOWNS)]),
        ("text", name(0)),
        ("text", f"{1 + n % 27:02d}/0{1 + n % 9}/199{n % 10}"),
        ("text", "Kinh"),
        ("text", "Việt Nam"),
        ("text", ADDRESSES[n % len(ADDRESSES)]),
        ("text", id_number(1)),
        choose("Đã xác định được cha"),
        ("text", name(2)),
        ("text", f"{1 + n % 27:02d}/0{1 + n % 9}/198{n % 10}"),
        ("text", "Kinh"),
        ("text", "Việt Nam"),
        ("text", ADDRESSES[n % len(ADDRESSES)]),
        ("text", id_number(2)),
        choose("Đã đăng ký kết hôn"),
        choose("Không cần"),
        choose("Có Giấy chứng sinh"),
        ("image", f"{cdn}/giay-chung-sinh-{n}.png"),
        ("text", pressed("/done")),
        choose("submit"),
    ]


@dataclass
class CountingZalo(ZaloStandIn):
    """The Zalo stand-in, also listing whom it was sent messages to: GET /_sent?from=N gives the recipients
    of the sends from the N-th on (a user id, or for a reply addressed to a citizen's message that message's
    id, "form-<n>-<step>"), so a poller reads each send once."""

    recipients: list[str] = field(default_factory=list)

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.path == "/_sent":
            start = int(call.query.get("from") or 0)
            with self.lock:
                return 200, self.recipients[start:]
        status, answer = super().answer(call)
        if call.path.startswith(("/v3.0/oa/message", "/v2.0/oa/message")) and call.json is not None:
            recipient = call.json.get("recipient") or {}
            with self.lock:
                self.recipients.append(str(recipient.get("user_id") or recipient.get("message_id") or ""))
        return status, answer


def run_standin(port: int) -> None:
    import signal

    CountingZalo(app_id=ZALO_APP_ID).start(port)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def start_cdn() -> tuple[http.server.ThreadingHTTPServer, str]:
    """The platform's file server stand-in: every path is a photo of a document."""
    return serve_files(lambda path: (PHOTO, "image/png"))


def body_for(user: str, n: int, step: int, kind: str, value: str) -> bytes:
    msg_id = f"form-{n}-{step}"
    if kind == "image":
        photo = {"type": "image", "payload": {"url": value}}
        message = {"msg_id": msg_id, "text": "", "attachments": [photo]}
        return zalo_body(event="user_send_image", user=user, msg_id=msg_id, message=message)
    return zalo_body(text=value, user=user, msg_id=msg_id)


def measure(base: str, db_url: str, zalo_url: str, args: argparse.Namespace) -> dict[str, Any]:
    cdn_server, cdn = args.cdn
    engine = create_engine(db_url)
    webhooks.warm_up(base, engine, args.time_limit)
    parses_before = args.counter.parses
    users = [str(9_000_000_000_000_000_000 + n) for n in range(args.citizens)]
    scripts = [script(n, cdn) for n in range(args.citizens)]
    host, port = base.rsplit("/", 1)[1].split(":")
    encoded = [[webhooks.LoadConnection.encode(host, int(port), "/webhooks/zalo", body, zalo_headers(body))
                for body in (body_for(users[n], n, k, kind, value) for k, (kind, value) in enumerate(lines))]
               for n, lines in enumerate(scripts)]
    counts: dict[str, int] = {}  # replies by user id or by the message they answer (polled from the stand-in)
    changed = threading.Condition()
    stop = threading.Event()

    def poll() -> None:
        http = requests.Session()
        read = 0
        while not stop.is_set():
            new = http.get(f"{zalo_url}/_sent", params={"from": read}, timeout=10).json()
            if new:
                read += len(new)
                with changed:
                    for who in new:
                        counts[who] = counts.get(who, 0) + 1
                    changed.notify_all()
            time.sleep(0.01)

    latencies: list[float] = []
    failures: list[int] = []
    stuck: list[str] = []

    def citizen(n: int) -> None:
        connection = webhooks.LoadConnection(host, int(port))
        for step, request in enumerate(encoded[n]):
            with changed:
                seen = counts.get(users[n], 0)
            started = time.perf_counter()
            try:
                status = connection.post(request)
            except OSError:  # gunicorn closed the idle keep-alive connection: a new one, as a platform does
                connection.close()
                started = time.perf_counter()
                status = connection.post(request)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)
            def answered(seen: int = seen, step: int = step) -> bool:
                return counts.get(f"form-{n}-{step}", 0) > 0 or counts.get(users[n], 0) > seen

            with changed:  # the citizen reads the bot's answer to this message before writing the next one
                if not changed.wait_for(answered, timeout=args.time_limit):
                    stuck.append(users[n])
                    return
        connection.close()

    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM inbound_event")).scalar() or 0
        done_before = conn.execute(text("SELECT count(*) FROM inbound_event WHERE status = 'done'")).scalar()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    cpu_before, started = webhooks.cpu_by_role(), time.monotonic()
    threads = [threading.Thread(target=citizen, args=(n,)) for n in range(args.citizens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # every message done (on SQLite the last ones may still wait in the spool when the replies are out)
    webhooks.settle(engine, args.time_limit, expect_done=(done_before or 0) + sum(len(s) for s in scripts))
    elapsed = time.monotonic() - started
    stop.set()
    cpu_after = webhooks.cpu_by_role()
    cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
    cpu.pop("machine")
    parses = args.counter.parses - parses_before
    with Session(engine) as session:
        event = InboundEvent
        rows = session.execute(select(event.status, event.received_at, event.processed_at)
                               .where(event.id > before)).all()
        dossiers = session.scalar(select(func.count()).select_from(Dossier).where(Dossier.user_id.in_(users)))
        sent = OutboxMessage.sent_at.is_not(None)
        sends = session.execute(select(OutboxMessage.created_at, OutboxMessage.sent_at)
                                .where(OutboxMessage.user_id.in_(users), sent)).all()
    engine.dispose()
    cdn_server.shutdown()
    done = [r for r in rows if r.status == "done"]
    first = min((r.received_at for r in rows), default=None)
    last = max((r.processed_at for r in done if r.processed_at), default=None)
    span = (last - first).total_seconds() if first and last else float("nan")
    turns = max(len(done), 1)
    # where a citizen's wait goes: webhook stored -> turn committed, reply written -> sent to the platform
    stored_to_done = [(r.processed_at - r.received_at).total_seconds() for r in done if r.processed_at]
    written_to_sent = [(r.sent_at - r.created_at).total_seconds() for r in sends]
    return {
        "nlu_parses": parses, "nlu_parses_per_turn": round(parses / turns, 3),
        "turns": len(done), "expected": sum(len(s) for s in scripts), "elapsed_s": round(elapsed, 1),
        "turns_per_s": round(len(done) / span, 1) if span else None, "span_s": round(span, 1),
        "dossiers": dossiers, "stuck": len(stuck), "non_200": len(failures),
        "ack_p99_ms": round(webhooks.percentile(latencies, 0.99) * 1000, 1),
        "turn_wait_ms_p50_p90": [round(webhooks.percentile(stored_to_done, q) * 1000) for q in (0.5, 0.9)],
        "send_wait_ms_p50_p90": [round(webhooks.percentile(written_to_sent, q) * 1000) for q in (0.5, 0.9)],
        "cpu_ms_per_turn": {role: round(used * 1000 / turns, 2) for role, used in sorted(cpu.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--standin", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--citizens", type=int, default=40)
    parser.add_argument("--processors", type=int, default=None,
                        help="event threads per worker process (default: the app's, WORKER_THREADS)")
    parser.add_argument("--nlu-clients", type=int, default=4,
                        help="concurrent requests while measuring the NLU server's own parse rate")
    parser.add_argument("--web-processes-pg", type=int, default=2,
                        help="gunicorn processes on PostgreSQL (SQLite's embedded default has one)")
    parser.add_argument("--sqlite-mode", choices=("embedded", "separate"), default="embedded",
                        help="SQLite: workers inside the web process (the default `make run`) or apart")
    parser.add_argument("--worker-nice", type=int, default=10)
    parser.add_argument("--nlu-seconds", type=float, default=8.0)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    args = parser.parse_args()
    if args.standin:
        run_standin(args.standin)
        return
    # what benchmarks/webhooks.py's set-up reads
    args.worker_processes, args.server, args.no_spool = 1, "gunicorn", False
    if not webhooks.nlu_ready(args.rasa_url):
        sys.exit(f"no NLU server at {args.rasa_url}: `make nlu-server` first")
    print(f"{args.citizens} citizens complete the khai sinh flow at once over signed Zalo webhooks; targets: "
          "turns/s >= 1.5 x the NLU's parses/s, <= 0.3 NLU parses per turn")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        # SQLite as `make run` runs it (one process, workers inside); PostgreSQL as scaled out
        args.mode = args.sqlite_mode if backend == "sqlite" else "separate"
        args.web_processes = 1 if args.mode == "embedded" else args.web_processes_pg
        nlu_before = webhooks.nlu_throughput(args.rasa_url, args.nlu_clients, args.nlu_seconds / 2)
        args.cdn = start_cdn()
        with ParseCounter(args.rasa_url) as args.counter:
            result = webhooks.run_backend(backend, args, measure, script=__file__,
                                          extra_env={"ATTACHMENT_HOSTS": "127.0.0.1",
                                                     "RASA_URL": args.counter.url})
        nlu_after = webhooks.nlu_throughput(args.rasa_url, args.nlu_clients, args.nlu_seconds / 2)
        nlu = (nlu_before + nlu_after) / 2
        print(json.dumps({"backend": backend, "workers": args.mode, **result,
                          "nlu_parses_per_s": round(nlu, 1),
                          "nlu_before": round(nlu_before, 1), "nlu_after": round(nlu_after, 1),
                          "ratio": round(result["turns_per_s"] / nlu, 2) if nlu else None},
                         ensure_ascii=False), flush=True)


class ParseCounter:
    """A pass-through in front of the NLU server that counts the app's parses (Rasa reports none)."""

    def __init__(self, target: str) -> None:
        self.target, self.parses = target.rstrip("/"), 0
        self.lock, self.local = threading.Lock(), threading.local()
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.startswith("/model/parse"):
                    with counter.lock:
                        counter.parses += 1
                if not hasattr(counter.local, "http"):
                    counter.local.http = requests.Session()
                answer = counter.local.http.request(method, counter.target + self.path, data=body,
                                              headers={"Content-Type": "application/json"}, timeout=30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ParseCounter:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    main()
