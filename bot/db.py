"""Database engine, sessions and the declarative base shared by every model.

The same code runs on SQLite (embedded default) and PostgreSQL (scale-out).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Index,
    MetaData,
    create_engine,
    event,
    literal_column,
    text,
)
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


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so worker threads can share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

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
    # pool_pre_ping costs a round trip per checkout, but after a database restart the staff console and
    # the webhooks would otherwise fail once per pooled connection; measured gain without it was ~1 %.
    return create_engine(url, pool_pre_ping=True, pool_recycle=1800, pool_size=10, max_overflow=20)


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
