"""Database helpers the pipeline shares: idempotent inserts and the dialect switch for row locking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Update, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def is_postgres(bind: Engine | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def keyed_update(model: type[Any]) -> Update:
    """An UPDATE by key that skips the ORM's in-Python sync of loaded objects (costly in a long turn)."""
    return update(model).execution_options(synchronize_session=False)


def insert_ignore(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> int:
    """Insert rows, silently skipping those that hit a unique key; returns how many were new."""
    if not rows:
        return 0
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(model).values(rows).on_conflict_do_nothing()
    # Core execution: the ORM bulk path reports rowcount -1 on PostgreSQL.
    return max(int(session.connection().execute(stmt).rowcount or 0), 0)


class Wakeup:
    """In-process nudge: the webhook wakes the embedded workers at once instead of at the next poll."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()


EVENTS = Wakeup()  # new inbound events
OUTBOX = Wakeup()  # new outbox items
