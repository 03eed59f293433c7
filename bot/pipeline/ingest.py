"""Webhook side of the pipeline: verify, store the raw event under (channel, event id), acknowledge.

Nothing here runs the bot: the platform gets its 200 within milliseconds (Zalo allows 2 s), and a
platform retry of the same event hits the unique key and is acknowledged without a second turn.
Whatever the body holds, a verified request gets a 2xx or a 4xx: what cannot be read is refused or
skipped and counted (ids and counts in the log, never the text), and no character can fail the insert
(`bot.storable`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.db import autocommit, utcnow
from bot.models import InboundEvent
from bot.pipeline.store import EVENTS, insert_ignore
from bot.services import Services
from bot.storable import storable
from connectors.base import Connector, MalformedEvent, ParsedEvent, WebhookRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ack:
    status: int
    body: str
    stored: int = 0


def store_events(services: Services, channel: str, events: list[ParsedEvent], raw: bytes) -> int:
    """Store parsed events; duplicates (same channel and event id) are skipped. Returns new ones."""
    if not events:
        return 0
    now = utcnow()
    rows = [
        {"channel": channel, "event_id": storable(ev.event_id[:200]), "user_id": storable(ev.user_id[:100]),
         "raw": raw, "inbound": storable(ev.inbound.to_dict()) if ev.inbound else None, "kind": ev.kind,
         "detail": storable(ev.detail) or None, "received_at": now, "status": "pending", "attempts": 0}
        for ev in events
    ]
    from bot.pipeline.spool import put, spool_engine

    spool = spool_engine(services)
    if spool is not None:
        spooled = put(spool, rows)  # moved into inbound_event by the workers (SQLite with INBOX_SPOOL)
        if spooled:
            EVENTS.notify()
        return spooled
    with autocommit(services.sessions) as connection:  # one statement per event, each on its own
        stored = insert_ignore(connection, InboundEvent, rows)
    if stored:
        EVENTS.notify()
    return stored


def ingest(services: Services, connector: Connector, request: WebhookRequest) -> Ack:
    """Verify and store one webhook request; never raises for bad input."""
    if not connector.verify(request):
        try:
            json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            log.warning("%s webhook: malformed body (%d bytes)", connector.name, len(request.body))
            return Ack(400, "malformed body")
        log.warning("%s webhook: missing or wrong signature", connector.name)
        return Ack(401, "invalid signature")
    try:
        events = connector.parse(request)
    except MalformedEvent as exc:
        log.warning("%s webhook: %s", connector.name, exc)
        return Ack(400, "malformed event")
    except Exception as exc:  # a parser bug on an unforeseen shape: refuse it, never a 500
        log.error("%s webhook: unreadable event (%s), refused", connector.name, type(exc).__name__)
        return Ack(400, "malformed event")
    try:
        stored = store_events(services, connector.name, events, request.body)
    except SQLAlchemyError:
        # Not stored: a non-2xx makes the platform deliver it again later.
        log.exception("%s webhook: database unavailable, %d event(s) not stored", connector.name, len(events))
        return Ack(503, "try again later")
    if len(events) > stored:
        log.info("%s webhook: %d duplicate event(s) acknowledged", connector.name, len(events) - stored)
    return Ack(200, "ok", stored)
