"""Wake-ups across processes on PostgreSQL: a webhook's NOTIFY wakes an idle worker in another process.

In the scaled-out set-up the webhooks run in the web processes and the turns in `motcua worker` processes,
so the in-process nudge (`store.Wakeup`) cannot reach the workers, which then found a new event only at
their next poll (up to POLL_SECONDS later, on every message of a conversation). The webhook that stored new
events sends `NOTIFY` on the channel below (after its insert, on the same connection: one round trip); each
worker process keeps one connection LISTENing and turns every notification into a nudge of one idle loop.
The poll stays as the safety net (a notification is lost while the listener reconnects).
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import Connection, Engine

from bot.pipeline.store import Wakeup

log = logging.getLogger(__name__)

CHANNEL = "motcua_events"
RECONNECT_SECONDS = 1.0


def announce(connection: Connection) -> None:
    """Tell listening workers that new events were stored (PostgreSQL; a no-op elsewhere)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


def start_listening(engine: Engine, wakeup: Wakeup, stop: threading.Event) -> threading.Thread | None:
    """A thread that nudges `wakeup` on every notification until `stop` is set; None if not PostgreSQL."""
    if engine.dialect.name != "postgresql":
        return None
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    thread = threading.Thread(target=_listen, args=(conninfo, wakeup, stop), name="motcua-listener",
                              daemon=True)
    thread.start()
    return thread


def _listen(conninfo: str, wakeup: Wakeup, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                wakeup.notify()  # what was stored while not listening
                while not stop.is_set():
                    for _ in connection.notifies(timeout=RECONNECT_SECONDS):
                        wakeup.notify()
        except psycopg.Error as exc:  # database restarted or unreachable: the poll carries on meanwhile
            log.warning("event listener: %s, reconnecting", exc.__class__.__name__)
            stop.wait(RECONNECT_SECONDS)
