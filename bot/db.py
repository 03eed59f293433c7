"""Database engine, sessions and the declarative base shared by every model.

The same code runs on SQLite (embedded default) and PostgreSQL (scale-out).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Index,
    Insert,
    MetaData,
    Update,
    create_engine,
    event,
    literal_column,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of only the rows matching `where` (both databases): a work queue stays small however long
    the table's history grows."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


def in_states(column: ColumnElement[str], states: Sequence[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')` with the values inline, not bound: the generic plan of a prepared statement
    can then still use a partial index on those states. Only for our own constant state names."""
    return column.in_([literal_column(f"'{state}'") for state in states])


def utcnow() -> datetime:
    return datetime.now(UTC)


IDLE_PING_SECONDS = 5.0


def make_engine(url: str, idle_ping: float = IDLE_PING_SECONDS) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so worker threads can share it.

    `hide_parameters`: a database error (and statement logging at DEBUG) shows the SQL without its bound
    values, which are message texts, webhook bodies and ID numbers: logs carry ids and counts only.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            # Switching to WAL needs an exclusive lock and does not wait for busy writers, so a connection
            # opened while another process writes would fail: switch only once, when the file is new.
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process (the worker pipeline's promise) without
            # an fsync per commit, which otherwise caps all writers together at a few hundred commits/s.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=20, hide_parameters=True)
    _ping_when_idle(engine, idle_ping)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use only if it sat idle for `idle_seconds`.

    Like pool_pre_ping, a connection the server dropped (restart, idle timeout) is replaced before anyone
    uses it; but the busy pipeline, which takes a connection several times per turn, pays no round trip.
    A restart within the last seconds costs at most one failed operation: SQLAlchemy then discards the
    whole pool, the webhook answers 503 (the platform retries) and the workers retry.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError("pooled connection is gone") from exc  # the pool connects anew


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_WRITERS: dict[int, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(factory: sessionmaker[Session]) -> threading.RLock | None:
    """SQLite allows one writer: threads of one process queue on a lock instead of SQLite's busy sleeps."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return None
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(id(bind), threading.RLock())


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    lock = _writer_lock(factory)
    if lock is None:
        with factory() as session, session.begin():
            yield session
        return
    with lock, factory() as session, session.begin():
        yield session


@contextmanager
def autocommit(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A connection on which every statement commits by itself, for work that is one statement or reads.

    On PostgreSQL this saves the BEGIN and COMMIT round trips a transaction costs (two of the three round
    trips of a webhook's insert). SQLite writers still queue on the in-process writer lock.
    """
    bind = factory.kw["bind"]
    lock = _writer_lock(factory)
    with lock if lock is not None else nullcontext(), bind.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def import_models() -> None:
    """Import every model module so `Base.metadata` is complete (migrations, create_all)."""
    import bot.models  # noqa: F401


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


# ---------------------------------------------------------------- dialect helpers


def is_postgres(bind: Engine | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def keyed_update(model: type[Any]) -> Update:
    """An UPDATE by key that skips the ORM's in-Python sync of loaded objects (costly in a long turn)."""
    return update(model).execution_options(synchronize_session=False)


def insert_ignore(bind: Session | Connection, model: type[Any], rows: list[dict[str, Any]]) -> int:
    """Insert rows, silently skipping those that hit a unique key; returns how many were new.

    One prebuilt statement (per row on PostgreSQL, an executemany on SQLite): exact counts on both
    databases, and nothing compiled per call. On PostgreSQL the new row's key comes back (RETURNING) and is
    counted: SQLAlchemy fetches the inserted key that way anyway, and the cursor's rowcount is then -1, which
    counted every new event as a duplicate (so a webhook never woke a worker).
    """
    if not rows:
        return 0
    connection = bind.connection() if isinstance(bind, Session) else bind
    statement = _insert_ignore_statement(model, connection.dialect.name)
    if connection.dialect.name == "postgresql":
        return sum(len(connection.execute(statement, row).all()) for row in rows)
    # SQLite: one executemany, whose rowcount is the sum of the rows inserted (a spool import moves dozens)
    return max(int(connection.execute(statement, rows).rowcount or 0), 0)


@lru_cache(maxsize=16)
def _insert_ignore_statement(model: type[Any], dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        keys = model.__table__.primary_key.columns
        return postgresql.insert(model.__table__).on_conflict_do_nothing().returning(*keys)  # type: ignore[no-any-return]
    return sqlite.insert(model.__table__).on_conflict_do_nothing()  # type: ignore[no-any-return]
