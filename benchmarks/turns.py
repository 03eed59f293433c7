"""CPU cost of one turn in the worker and in the database server, without load or concurrency.

    .venv/bin/python benchmarks/turns.py [--backends sqlite,postgresql] [--turns 400] [--profile]

Stores Zalo text events from 200 citizens, then processes them in this process with one thread
(`worker.drain`), then sends the replies (`dispatcher.drain`) to a Zalo stand-in in another process.
Prints CPU milliseconds per turn of this process (processing, then dispatch) and of the PostgreSQL server,
and the SQL statements per turn. The real NLU server answers (RASA_URL, default http://127.0.0.1:5005);
its own CPU is not counted here. A first round of 200 turns warms caches, connections and prepared
statements. `--profile PHASE` prints the top functions of that phase.

This is the per-turn budget benchmarks/webhooks.py runs under load: there, the NLU server takes about a
core, and the worker, webhooks and database share the rest.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine.interfaces import CacheStats  # noqa: E402
from webhooks import (  # noqa: E402
    QUESTIONS,
    cpu_by_role,
    database_for,
    free_port,
    nlu_ready,
    standin_stats,
    wait_until,
)

USERS = 200
CACHE_HIT = CacheStats.CACHE_HIT


def run_backend(backend: str, args: argparse.Namespace) -> None:
    from tests.channels.conftest import ZALO_APP_ID, ZALO_OA_SECRET
    from tests.channels.standins import ZaloStandIn

    zalo = ZaloStandIn(app_id=ZALO_APP_ID)  # the defaults the stand-in process uses
    port = free_port()
    standin = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "webhooks.py"), "--standin",
                                str(port)], cwd=ROOT)
    zalo_url = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="motcua-turns-"))
    db_url, cleanup = database_for(backend, tmp)
    try:
        wait_until(lambda: standin_stats(zalo_url), "the Zalo stand-in", standin)
        os.environ.update({
            "DATABASE_URL": db_url, "RASA_URL": args.rasa_url, "FILES_DIR": str(tmp / "files"),
            "INBOX_SPOOL": "false", "ZALO_APP_ID": ZALO_APP_ID, "ZALO_APP_SECRET": zalo.app_secret,
            "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET, "ZALO_ACCESS_TOKEN": zalo.access_token,
            "ZALO_REFRESH_TOKEN": zalo.refresh_token, "ZALO_API_BASE": zalo_url, "ZALO_OAUTH_BASE": zalo_url,
            "LOG_LEVEL": "WARNING",
        })
        measure(backend, args)
    finally:
        standin.send_signal(signal.SIGTERM)
        standin.wait(timeout=20)
        cleanup()


def measure(backend: str, args: argparse.Namespace) -> None:
    from bot.config import Settings
    from bot.db import upgrade
    from bot.messages import Inbound
    from bot.pipeline import dispatcher, worker
    from bot.pipeline.ingest import store_events
    from bot.services import Services
    from connectors import build_connectors
    from connectors.base import ParsedEvent, http_session

    services = Services.build(Settings.load())
    upgrade(services.engine)
    connectors = build_connectors(services, quiet=True)
    http = http_session()

    def store(tag: str, count: int) -> None:
        events = [ParsedEvent(f"{tag}{n}", f"u{n % USERS}", Inbound(
            channel="zalo", user_id=f"u{n % USERS}", message_id=f"{tag}{n}", kind="text",
            text=random.choice(QUESTIONS))) for n in range(count)]
        for start in range(0, count, 50):
            store_events(services, "zalo", events[start:start + 50], b"{}")

    store("warm", USERS)
    worker.drain(services, connectors)
    dispatcher.drain(services, connectors, http)
    store("turn", args.turns)
    statements, compiled = 0, 0
    uncached: dict[str, int] = {}

    @event.listens_for(services.engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        nonlocal statements, compiled
        statements += 1
        # Compiled again for this execution: no cache key (e.g. literal multi-row VALUES) or a cache miss
        if context is not None and context.compiled is not None and context.cache_hit is not CACHE_HIT:
            compiled += 1
            uncached[sql] = uncached.get(sql, 0) + 1

    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
    figures = {}
    for phase, run in (("processing", lambda: worker.drain(services, connectors)),
                       ("dispatch", lambda: dispatcher.drain(services, connectors, http))):
        before, cpu, statements, compiled = cpu_by_role(), time.process_time(), 0, 0
        if profile and phase == args.profile:
            profile.enable()
        done = run()
        if profile and phase == args.profile:
            profile.disable()
        after = cpu_by_role()
        figures[phase] = (done, (time.process_time() - cpu) * 1000 / args.turns,
                          (after.get("database", 0.0) - before.get("database", 0.0)) * 1000 / args.turns,
                          statements / args.turns, compiled / args.turns)
    for phase, (done, app_ms, db_ms, per_turn, compiled_per_turn) in figures.items():
        print(f"{backend:<11}{phase:<11}{done:>6}{app_ms:>10.2f}{db_ms:>10.2f}{per_turn:>12.1f}"
              f"{compiled_per_turn:>10.2f}")
    for sql, times in sorted(uncached.items(), key=lambda item: -item[1])[:5]:
        print(f"  compiled {times} times: {' '.join(sql.split())[:150]}")
    services.engine.dispose()
    if profile:
        import pstats

        top = int(args.top) if args.top.isdigit() else args.top
        pstats.Stats(profile).sort_stats(args.sort).print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--profile", choices=("processing", "dispatch"), help="profile this phase")
    parser.add_argument("--sort", default="tottime", help="profile order: tottime | cumulative")
    parser.add_argument("--top", default="25", help="profile lines shown: a count, or a regex of file names")
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    args = parser.parse_args()
    if not nlu_ready(args.rasa_url):
        sys.exit(f"no NLU server at {args.rasa_url}: start one with `make nlu-server`")
    random.seed(uuid.uuid4().int)
    print(f"{args.turns} turns, one thread; CPU ms per turn (this process | database server)")
    print(f"{'backend':<11}{'phase':<11}{'items':>6}{'app ms':>10}{'db ms':>10}{'SQL/turn':>12}"
          f"{'compiled':>10}")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        run_backend(backend, args)


if __name__ == "__main__":
    main()
