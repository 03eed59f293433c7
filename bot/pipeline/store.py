"""Database helpers the pipeline shares: idempotent inserts and the dialect switch for row locking."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Engine, Row, Select, Update, select, update
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


QUEUE_PAGE = 64
QUEUE_PAGES = 32  # a claim looks at most this far (2,048 unfinished rows) for free heads


def queue_heads(session: Session, unfinished: Select[Any], group: Callable[[Row[Any]], Hashable],
                ready: Callable[[Row[Any]], bool], limit: int) -> list[Row[Any]]:
    """The oldest `limit` ready heads of a work queue: rows with no earlier unfinished row in their group.

    `unfinished` selects the queue's unfinished rows, `id` first (a partial index serves it). Walking them in
    id order, page by page, every earlier row of a group is seen before the group's next one, so heads are
    known without a per-row subquery, and the cost depends neither on the planner's statistics nor on how
    long the table's history is.
    """
    id_column = unfinished.selected_columns[0]
    seen: set[Hashable] = set()
    heads: list[Row[Any]] = []
    after = 0
    for _ in range(QUEUE_PAGES):
        page = unfinished.where(id_column > after).order_by(id_column).limit(QUEUE_PAGE)
        rows = session.execute(page).all()
        for row in rows:
            key = group(row)
            if key in seen:
                continue
            seen.add(key)
            if ready(row):
                heads.append(row)
                if len(heads) == limit:
                    return heads
        if len(rows) < QUEUE_PAGE:
            break
        after = rows[-1][0]
    return heads


def lock_heads(session: Session, model: type[Any], heads: list[int], free: Any, limit: int) -> list[int]:
    """Of the candidate heads (ids, oldest first), the first `limit` still free that this transaction locks.

    PostgreSQL: rows another worker is taking right now are skipped, not waited for, so the next candidates
    go to this worker instead. SQLite: the writer lock already keeps other writers out.
    """
    if not is_postgres(session):
        return heads[:limit]
    id_column = model.id
    return list(session.scalars(select(id_column).where(id_column.in_(heads), free).order_by(id_column)
                                .limit(limit).with_for_update(skip_locked=True)))


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
