"""Staff dashboard response time on a year of data in PostgreSQL (1 M messages, 50 k dossiers).

    .venv/bin/python benchmarks/dashboard.py [--database postgresql+psycopg://root@127.0.0.1:5432/test]
                                             [--messages 1000000] [--dossiers 50000] [--repeat 5]

Creates a private schema, migrates it, fills it with INSERT ... SELECT FROM generate_series (the rows
never leave the server), runs ANALYZE, then times `GET /staff/dashboard` (an officer logged in, the whole
page rendered) and `GET /api/v1/stats` for today, 7 days, 30 days and 365 days, each `--repeat` times
after one warm-up, and prints the median and the slowest. The schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.agency import Agency  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import transaction, upgrade, utcnow  # noqa: E402
from bot.staff.auth import create_user  # noqa: E402

TOKEN = "benchmark-token"
PASSWORD = "mat-khau-benchmark-2026"

FILL = [
    # 20 k citizens on three channels.
    """INSERT INTO conversation (channel, user_id, created_at, mode, state, profile, failed_understanding)
       SELECT (ARRAY['zalo','facebook','web'])[1 + g % 3], 'u' || g, now() - interval '365 days', 'bot',
              '{{}}', '{{}}', 0 FROM generate_series(1, {conversations}) g""",
    # Messages over the last 365 days: about half from citizens (NLU reading, some fallbacks and
    # handoffs), the rest bot replies and a few officers' answers.
    """INSERT INTO message (conversation_id, direction, author, text, body, intent, confidence,
                            procedure_code, procedure_score, outcome, created_at)
       SELECT 1 + (g::bigint * 7919) % {conversations},
              CASE WHEN g % 20 = 0 THEN 'out' WHEN g % 2 = 0 THEN 'out' ELSE 'in' END,
              CASE WHEN g % 20 = 0 THEN 'staff' WHEN g % 2 = 0 THEN 'bot' ELSE 'citizen' END,
              'tin nhắn ' || g, '{{}}',
              CASE WHEN g % 2 = 1 THEN (ARRAY['ask_fee','ask_documents','ask_procedure','greet',
                   'check_status','submit_dossier','request_human'])[1 + g % 7] END,
              CASE WHEN g % 2 = 1 THEN random() END,
              CASE WHEN g % 2 = 1 THEN (ARRAY['1.001193','1.000894','2.000986','1.003583'])[1 + g % 4] END,
              CASE WHEN g % 2 = 1 THEN random() END,
              CASE WHEN g % 2 = 1 AND g % 23 = 0 THEN 'fallback'
                   WHEN g % 2 = 1 AND g % 41 = 0 THEN 'handoff_request_human' END,
              now() - (random() * interval '365 days')
       FROM generate_series(1, {messages}) g""",
    """INSERT INTO dossier (code, procedure_code, procedure_name, conversation_id, channel, user_id,
                            applicant, status, supplement_items, received_at, appointment_date, updated_at)
       SELECT 'B-' || g, (ARRAY['1.001193','1.000894','2.000986','1.003583'])[1 + g % 4], 'Thủ tục',
              1 + g % {conversations}, (ARRAY['zalo','facebook','web'])[1 + g % 3], 'u' || g, '{{}}',
              (ARRAY['received','processing','result_ready','returned','rejected'])[1 + g % 5], '[]',
              now() - (random() * interval '365 days'), (now() + interval '3 days')::date, now()
       FROM generate_series(1, {dossiers}) g""",
    """INSERT INTO satisfaction_rating (subject, conversation_id, score, skipped, asked_at)
       SELECT 'b:' || g, 1 + g % {conversations}, 1 + g % 5, false, now() - (random() * interval '365 days')
       FROM generate_series(1, {dossiers} / 5) g""",
]


def timed(call, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    call()  # warm-up
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--dossiers", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parts", action="store_true", help="also time each figure for 365 days")
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    try:
        engine = create_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement.format(**vars(args))))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum leaves a table that grew over a year
            messages, dossiers = conn.execute(
                text("SELECT (SELECT count(*) FROM message), (SELECT count(*) FROM dossier)")).one()
        print(f"generated {messages} messages, {dossiers} dossiers in {time.perf_counter() - started:.1f} s")
        engine.dispose()

        settings = Settings.load(database_url=url, api_token=TOKEN, secret_key="bench", cookie_secure=False,
                                 embedded_workers=False)
        app = create_app(settings, start_workers=False)
        with transaction(app.extensions["motcua"].sessions) as session:
            create_user(session, "canbo", PASSWORD, "admin")
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        assert client.post("/staff/login", data={"username": "canbo", "password": PASSWORD,
                                                 "csrf_token": token}).status_code == 302
        today = Agency.load().local(utcnow()).date()
        print("period     dashboard page (median / max ms)   GET /api/v1/stats (median / max ms)")
        for name, days in (("today", 1), ("7d", 7), ("30d", 30), ("365d", 365)):
            first = today - timedelta(days=days - 1)
            query = f"period=custom&from={first}&to={today}" if name == "365d" else f"period={name}"

            def page_call(query: str = query) -> None:
                assert client.get(f"/staff/dashboard?{query}").status_code == 200

            def api_call(first: object = first) -> None:
                assert client.get(f"/api/v1/stats?from={first}&to={today}",
                                  headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200

            page_ms, api_ms = timed(page_call, args.repeat), timed(api_call, args.repeat)
            print(f"{name:<10} {page_ms[0]:8.0f} / {page_ms[1]:<8.0f}                  "
                  f"{api_ms[0]:8.0f} / {api_ms[1]:<8.0f}")
        if args.parts:  # each figure of the longest period on its own
            from bot.insight.stats import Period, Stats

            with app.extensions["motcua"].sessions() as session:
                stats = Stats(session, Agency.load(), Period(today - timedelta(days=364), today), utcnow())
                for part in ("conversations", "messages", "messages_per_day", "response_times", "dossiers",
                             "top_asked", "satisfaction"):
                    median, _ = timed(getattr(stats, part), 1)
                    print(f"  365d {part:<18} {median:8.0f} ms")
        app.extensions["motcua"].engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
