"""SQLite only: an inbox file beside the database that webhooks write to, so a turn never delays an ack.

SQLite has one writer at a time. A turn holds the write lock while the dialogue runs, and a webhook that
waits behind a few turns can miss the platform's deadline. With INBOX_SPOOL on, webhooks insert into
`<database>.inbox` (their own lock) and the workers move the rows into `inbound_event` in short batches.
Moving is idempotent: the unique (channel, event id) key makes a repeated import a no-op, and a row leaves
the spool only after its import committed, so a crash in between loses nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    event,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

from bot.db import UTCDateTime, make_engine, transaction
from bot.models import InboundEvent
from bot.pipeline.store import EVENTS, insert_ignore
from bot.services import Services

BATCH = 500
_metadata = MetaData()
SPOOL = Table(
    "inbox_spool", _metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("inbound", JSON),
    Column("kind", String(12), nullable=False),
    Column("detail", JSON),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel", "event_id"),
)
_engines: dict[str, Engine] = {}
_guard = threading.Lock()
_importing = threading.Lock()
# This process's webhook threads take turns at the spool's write lock: a thread waiting here wakes as soon
# as the writer before it is done, instead of polling against its neighbours in `_transaction`.
_writing = threading.Lock()
CLEAN_SECONDS = 5.0
REMOVE_CHUNK = 200  # rows per deleting transaction: a webhook waits for one chunk at most
CHECKPOINT_SECONDS = 1.0
BUSY_SECONDS, BUSY_SLEEP = 30.0, 0.0005  # waiting for another process's write: how long, how often to try
SQLITE_BUSY, SQLITE_LOCKED = 5, 6
T = TypeVar("T")
# Per database, in this process: the last spool id imported (committed) since the last removal, and when
# that was. After a restart the spool is read from its start again; the unique key skips repeats.
_imported: dict[str, int] = {}
_cleaned: dict[str, float] = {}
_checkpointed: dict[str, float] = {}
_NEXT = select(SPOOL).where(SPOOL.c.id > bindparam("after")).order_by(SPOOL.c.id).limit(BATCH)
_KEYS = [c.name for c in SPOOL.columns if c.name != "id"]
_PUT = sqlite.insert(SPOOL).on_conflict_do_nothing()
_REMOVE = delete(SPOOL).where(SPOOL.c.id.in_(
    select(SPOOL.c.id).where(SPOOL.c.id <= bindparam("upto")).order_by(SPOOL.c.id).limit(REMOVE_CHUNK)))


def spool_engine(services: Services) -> Engine | None:
    """The spool of this database, or None when the spool is off or the database is not SQLite."""
    url = services.settings.database_url
    if not services.settings.inbox_spool or not url.startswith("sqlite:///"):
        return None
    with _guard:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url + ".inbox")
            event.listen(engine, "connect", _spool_pragmas)
            # several processes may get here at once
            _transaction(engine, lambda conn: conn.execute(CreateTable(SPOOL, if_not_exists=True)))
            _engines[url] = engine
    return engine


def _spool_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Two latency traps of SQLite for the webhooks:

    - the connection whose commit crosses the WAL threshold copies and fsyncs the log inside a webhook
      (one such commit measured 111 ms): the spool is never checkpointed automatically; the workers do it
      (`import_spool`);
    - a writer that finds the lock taken sleeps in SQLite's busy handler 1, 2, 5, 10, 15, 20, 25 ms ...
      between tries, and with two web processes writing a few hundred times a second it can lose several
      tries in a row: SQLite answers "busy" at once and `_transaction` tries again every half millisecond.
    """
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
    dbapi_conn.execute("PRAGMA busy_timeout=0")


def _transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work(connection)` in a transaction of the spool, trying again while another writer holds
    the lock (for up to BUSY_SECONDS, like the main database's busy timeout)."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF  # extended codes keep the primary low
            if code not in (SQLITE_BUSY, SQLITE_LOCKED) or time.monotonic() > deadline:
                raise
        time.sleep(BUSY_SLEEP)


def put(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """Spool rows (the same keys as `inbound_event`); a duplicate still in the spool is skipped."""
    values = [{k: row[k] for k in _KEYS} for row in rows]
    with _writing:
        result = _transaction(engine, lambda conn: conn.execute(_PUT, values))
    return max(int(result.rowcount or 0), 0)


def import_spool(services: Services) -> int:
    """Move spooled events into `inbound_event` (oldest first); returns how many new events arrived.

    Imported rows leave the spool in bulk, when the spool is idle or every CLEAN_SECONDS, in chunks of
    REMOVE_CHUNK: each deletion takes the spool's write lock and the webhooks wait for it (deleting after
    every import showed up as ack-latency spikes). The spool's log is checkpointed here, at most every
    CHECKPOINT_SECONDS, never by a webhook.
    """
    engine = spool_engine(services)
    if engine is None or not _importing.acquire(blocking=False):
        return 0
    try:
        url = services.settings.database_url
        after = _imported.get(url, 0)
        rows = _transaction(engine, lambda conn: [r._asdict() for r in conn.execute(_NEXT, {"after": after})])
        new = 0
        if rows:
            with transaction(services.sessions) as session:
                new = insert_ignore(session, InboundEvent, [
                    {**{k: v for k, v in row.items() if k != "id"}, "status": "pending", "attempts": 0}
                    for row in rows])
            _imported[url] = rows[-1]["id"]  # committed: these may leave the spool
        imported = _imported.get(url, 0)
        if imported and (not rows or time.monotonic() - _cleaned.get(url, 0.0) >= CLEAN_SECONDS):
            removed = REMOVE_CHUNK
            while removed == REMOVE_CHUNK:
                removed = _transaction(engine, lambda c: c.execute(_REMOVE, {"upto": imported}).rowcount)
            # What is left was never imported; and an emptied table may hand out low ids again.
            _imported[url], _cleaned[url] = 0, time.monotonic()
        if rows and time.monotonic() - _checkpointed.get(url, 0.0) >= CHECKPOINT_SECONDS:
            _transaction(engine, lambda conn: conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)"))
            _checkpointed[url] = time.monotonic()
        if new:
            EVENTS.notify()
        return new
    finally:
        _importing.release()
