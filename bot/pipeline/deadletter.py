"""Dead letters: events the worker gave up on, so one poisonous or stuck turn never blocks a conversation.

An event whose turn raised, or whose lease expired, `MAX_ATTEMPTS` times (bot/pipeline/worker.py) ends in
the state `failed`: finished, so the conversation's later messages go on, and kept for officers. A citizen
whose message it was is not left in silence: the conversation goes to the officers' queue through the
one handoff module (`bot.handoff`, reason `turn_failed`), which tells them that an officer
will answer and when. Officers see the dead letters in the console (bot/staff/failed_events.py) and retry
(queued again from scratch) or dismiss (finished as `ignored`) each one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import handoff
from bot.agency import Agency
from bot.db import transaction
from bot.messages import Inbound
from bot.models import InboundEvent
from bot.pipeline.store import OUTBOX, keyed_update
from bot.services import Services
from bot.transcript import record_inbound

log = logging.getLogger(__name__)

DEAD = "failed"  # the dead-letter state
REASON = "turn_failed"  # conversation.handoff_reason of a conversation handed over for a dead letter
E = InboundEvent


def dead_letter(services: Services, event_id: int, attempts: int, error: str, now: datetime) -> bool:
    """Give up on a claimed event (fenced by its claim's attempt number); False if it is no longer ours.

    The event's message goes into the transcript and its conversation to the officers, in the same
    transaction; if even that fails, the event is still dead-lettered (and the failure logged).
    """
    with transaction(services.sessions) as session:
        marked = session.execute(
            keyed_update(E).where(E.id == event_id, E.attempts == attempts, E.status == "processing")
            .values(status=DEAD, locked_until=None, processed_at=now, error=error[:1000])).rowcount
        if not marked:
            return False
        kind, inbound = session.execute(select(E.kind, E.inbound).where(E.id == event_id)).one()
        told = False
        if kind == "message" and inbound:
            try:
                with session.begin_nested():
                    told = _hand_over(session, Inbound.from_dict(inbound), now)
            except Exception as exc:
                log.error("event %s: dead-lettered, but could not hand it to an officer (%s)",
                          event_id, exc.__class__.__name__)
    log.warning("event %s dead-lettered after %s attempt(s) (%s)%s", event_id, attempts,
                error.split(":", 1)[0], ", conversation handed to an officer" if told else "")
    if told:
        OUTBOX.notify()
    return True


def _hand_over(session: Session, inbound: Inbound, now: datetime) -> bool:
    """The message into the transcript; the conversation to the officers' queue, with the handoff notice
    (unless an officer or the platform already has it). True if the citizen was told."""
    transcript = record_inbound(session, inbound, now)
    conv = transcript.conversation
    if conv.mode != "bot":
        transcript.write_inbound()
        return False
    handoff.to_staff(conv, REASON, now)
    transcript.finish([handoff.handoff_notice(Agency.load(), now, REASON)], in_reply_to=inbound.message_id)
    return True


# ---------------------------------------------------------------- what officers do with dead letters


def dead_letters(session: Session, limit: int = 200) -> list[InboundEvent]:
    """The dead letters, newest first."""
    return list(session.scalars(select(E).where(E.status == DEAD).order_by(E.id.desc()).limit(limit)))


def error_class(event: InboundEvent) -> str:
    """The kind of failure (`RuntimeError`, `LeaseExpired`), without its message (which may quote data)."""
    return (event.error or "").split(":", 1)[0][:80]


def retry(event: InboundEvent) -> bool:
    """Queue a dead letter again from scratch (attempts reset); it becomes its conversation's next event."""
    if event.status != DEAD:
        return False
    event.status, event.attempts, event.locked_until = "pending", 0, None
    event.processed_at, event.error = None, None
    return True


def dismiss(event: InboundEvent) -> bool:
    """An officer dealt with it: finished as `ignored` (the error stays for the record)."""
    if event.status != DEAD:
        return False
    event.status = "ignored"
    return True


def shown_text(event: InboundEvent) -> dict[str, Any]:
    """What an officer sees when opening one dead letter: the citizen's words and the full error."""
    inbound = event.inbound or {}
    return {"text": inbound.get("text") or "", "payload": inbound.get("payload") or "",
            "attachments": len(inbound.get("attachments") or ()), "error": event.error or ""}
