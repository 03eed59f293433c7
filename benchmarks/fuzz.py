"""A longer fuzzing campaign over every parser the outside world reaches, and the API contract.

    .venv/bin/python benchmarks/fuzz.py [--examples 1000] [--api-examples 200] [--database-url URL]

Runs the targets of tests/hostile/harness.py (the suite runs the same ones with a few dozen cases each)
with random seeds against a fresh app (a temporary SQLite database by default; a PostgreSQL URL gets a
private schema, dropped at the end), then Schemathesis on every operation of bot/api/openapi.yaml in
positive and negative mode. Prints, per parser, the cases run, the 5xx answers seen and the valid events
lost (targets: 0), and the status codes answered. Exits 1 when any 5xx or loss was seen.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import schemathesis  # noqa: E402
from hostile.harness import TARGETS, Hostile, fuzz_settings, run  # noqa: E402
from hostile.test_openapi_contract import CODE, api_schema, check_operation  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from staff.conftest import add_dossier  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.config import Settings  # noqa: E402


def _database(url: str | None, folder: Path) -> tuple[str, str | None]:
    """(database URL, private PostgreSQL schema or None)."""
    if not url:
        return f"sqlite:///{folder / 'fuzz.sqlite3'}", None
    schema = f"fuzz_{uuid.uuid4().hex[:10]}"
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="cases per parser")
    parser.add_argument("--api-examples", type=int, default=200, help="cases per API operation and mode")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every refused case logs a line; the figures are what matters

    with tempfile.TemporaryDirectory() as tmp:
        url, schema = _database(args.database_url, Path(tmp))
        settings = Settings.load(database_url=url, files_dir=Path(tmp) / "files", secret_key="fuzz",
                                 embedded_workers=False)
        app = create_app(fuzz_settings(settings), start_workers=False)
        app.config.update(TESTING=True)
        hostile = Hostile(app)
        add_dossier(app, hostile.conversation_id, code=CODE, appointment=date(2027, 1, 15))
        backend = "PostgreSQL" if schema else "SQLite"
        print(f"fuzzing on {backend}: {args.examples} cases per parser, "
              f"{args.api_examples} per API operation and mode\n")
        print(f"{'parser':58} {'cases':>6} {'5xx':>4} {'lost':>4} {'s':>6}  statuses")
        failures = 0
        for target in TARGETS:
            started = time.monotonic()
            tally = run(target, hostile, args.examples, strict=False)
            statuses = " ".join(f"{code}:{n}" for code, n in sorted(tally.statuses.items()))
            print(f"{target.name:58} {tally.cases:6d} {tally.server_errors:4d} {tally.lost:4d} "
                  f"{time.monotonic() - started:6.1f}  {statuses}")
            failures += tally.server_errors + tally.lost
        contract = api_schema(app)
        for result in contract.get_all_operations():
            operation = result.ok()
            for mode in schemathesis.GenerationMode:
                started = time.monotonic()
                label = f"API contract {operation.label} ({mode.value})"
                codes = {"code": CODE} if "{code}" in operation.path else {}
                try:
                    calls = check_operation(operation, mode, args.api_examples, derandomize=False, **codes)
                    found = 0
                except Exception as exc:  # Schemathesis reports what it found as one exception group
                    calls, found = -1, 1
                    print(f"  {label}: {str(exc).splitlines()[0]}")
                print(f"{label:58} {calls:6d} {found:4d} {'-':>4} {time.monotonic() - started:6.1f}")
                failures += found
        app.extensions["motcua"].engine.dispose()
        if schema:
            with create_engine(args.database_url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    verdict = "FAILED" if failures else "ok"
    print(f"\n{verdict}: {failures} 5xx answer(s), lost event(s) or contract failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
