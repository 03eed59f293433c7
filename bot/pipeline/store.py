"""Database helpers the pipeline shares: work queues (claiming the heads of conversations), idempotent
inserts, and matching platform ids."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    bindparam,
    or_,
    select,
    update,
)

# Dialect helpers live with the engine (bot.db), so lower layers use them without the pipeline.
from bot.db import insert_ignore, is_postgres, keyed_update  # noqa: F401


def lists_id(column: Any, value: str) -> ColumnElement[bool]:
    """`column` (comma-separated platform ids, one per part of a reply) names `value` exactly."""
    return or_(column == value, column.startswith(f"{value},", autoescape=True),
               column.endswith(f",{value}", autoescape=True), column.contains(f",{value},", autoescape=True))


QUEUE_PAGE = 64
QUEUE_PAGES = 32  # a claim looks at most this far (2,048 unfinished rows) for free heads
SPARE = 4  # candidates per wanted head: on PostgreSQL some may be in another worker's hands right now


class WorkQueue:
    """A table used as a work queue: claim the oldest free heads (rows with no earlier unfinished row in
    their group: a conversation), with statements built once.

    `unfinished` selects the unfinished rows, `id` first (a partial index serves it). Walking them in id
    order, page by page, every earlier row of a group is seen before the group's next one, so heads are
    known without a per-row subquery; the cost depends neither on the planner's statistics nor on how long
    the table's history is. `free` (SQL, with a `now` parameter) and `ready` (the same test in Python, on a
    row read) say whether a head may be taken now; `take` the columns a claim sets.
    """

    def __init__(self, model: type[Any], unfinished: Select[Any], free: ColumnElement[bool],
                 take: dict[str, Any], returning: tuple[Any, ...],
                 group: Callable[[Row[Any]], Hashable]) -> None:
        id_column, ids = model.id, bindparam("ids", expanding=True)
        self.page = unfinished.where(id_column > bindparam("after")).order_by(id_column).limit(QUEUE_PAGE)
        # Re-checking `free` skips a row another worker took meanwhile. SQLite: one writer at a time anyway.
        self.take = update(model).where(id_column.in_(ids), free).values(**take).returning(*returning)
        # PostgreSQL, one statement: lock the first `n` candidates still free, skipping (not waiting for)
        # rows another worker is taking right now, and take them.
        locked = (select(id_column).where(id_column.in_(ids), free).order_by(id_column)
                  .limit(bindparam("n")).with_for_update(skip_locked=True))
        self.take_locked = (update(model).where(id_column.in_(locked.scalar_subquery())).values(**take)
                            .returning(*returning))
        self.group = group

    def claim(self, connection: Connection, params: dict[str, Any], ready: Callable[[Row[Any]], bool],
              limit: int) -> tuple[list[Row[Any]], list[Row[Any]]]:
        """Take up to `limit` heads: (the heads read, the rows taken). Each statement is atomic on its own,
        so this needs no transaction (see bot.db.autocommit)."""
        heads = self._heads(connection, params, ready, limit * SPARE)
        ids = [row[0] for row in heads]
        if not ids:
            return heads, []
        if connection.dialect.name == "postgresql":
            taken = connection.execute(self.take_locked, {**params, "ids": ids, "n": limit})
        else:
            taken = connection.execute(self.take, {**params, "ids": ids[:limit]})
        return heads, list(taken.all())

    def _heads(self, connection: Connection, params: dict[str, Any], ready: Callable[[Row[Any]], bool],
               limit: int) -> list[Row[Any]]:
        seen: set[Hashable] = set()
        heads: list[Row[Any]] = []
        after = 0
        for _ in range(QUEUE_PAGES):
            rows = connection.execute(self.page, {**params, "after": after}).all()
            for row in rows:
                key = self.group(row)
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


class Wakeup:
    """In-process nudge: the webhook wakes an embedded worker at once instead of at the next poll.

    Each nudge wakes one idle loop, not all of them: one new event is one claim's work, and every loop
    woken for nothing paid a claim query (and on SQLite the writer lock) to find it taken. A nudge while no
    loop waits is kept (once), so a loop finishing its round does not sleep past it. A loop that took a
    full batch nudges the next one itself (`bot.pipeline.runner`).
    """

    def __init__(self) -> None:
        import threading

        self._ready = threading.Condition(threading.Lock())
        self._pending = False

    def notify(self) -> None:
        with self._ready:
            self._pending = True
            self._ready.notify()

    def notify_all(self) -> None:
        """Wake every waiting loop (stopping)."""
        with self._ready:
            self._pending = True
            self._ready.notify_all()

    def wait(self, timeout: float) -> None:
        with self._ready:
            if not self._pending:
                self._ready.wait(timeout)
            self._pending = False


EVENTS = Wakeup()  # new inbound events
OUTBOX = Wakeup()  # new outbox items
# The notifier has its own: a nudge for a new reply must wake a dispatcher, not the notifier (which would
# find nothing, while the reply waited for the dispatcher's next poll). Notifications are found by polling.
NOTICES = Wakeup()
