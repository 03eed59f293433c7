"""Pooled PostgreSQL connections the server dropped are replaced before use (bot.db._ping_when_idle)."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.db import make_engine

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                           {"pid": pid}).scalar_one():
            time.sleep(0.05)
    admin.dispose()


def test_an_idle_connection_dropped_by_the_server_is_replaced_unnoticed() -> None:
    engine = make_engine(os.environ["TEST_DATABASE_URL"], idle_ping=0.2)
    first = _backend_pid(engine)
    _terminate(first)  # as a server restart or an idle timeout would
    time.sleep(0.3)
    assert _backend_pid(engine) != first  # no error: the pool tested it and connected anew
    engine.dispose()


@pytest.mark.parametrize(("idle_ping", "pinged"), [(60.0, False), (0.0, True)])
def test_only_a_connection_idle_long_enough_is_pinged(idle_ping: float, pinged: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(os.environ["TEST_DATABASE_URL"], idle_ping=idle_ping)
    pings: list[object] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real(conn))
    pids = {_backend_pid(engine) for _ in range(5)}  # checked out and in again and again
    assert len(pids) == 1  # one pooled connection, reused
    assert bool(pings) is pinged
    engine.dispose()
