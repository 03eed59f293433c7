"""The citizen's choice of how to be told about their dossiers, recorded with its consent.

Sending a status update to a phone number (ZNS, SMS) is a processing of that number for a purpose of its
own, so the choice is recorded as a consent (purpose `notify:<choice>`, the version of the texts shown) and
the preference row names that record as its legal basis. Choosing "none" withdraws it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.consent import record
from bot.models import ConsentRecord, Conversation, NotificationPreference

CHOICES = ("chat", "zalo", "sms", "none")
BASIS = "consent"


def current(session: Session, conversation_id: int | None) -> str | None:
    """The conversation's choice, or None when the citizen never chose or withdrew the consent behind it
    (an erasure withdraws every consent of the conversation)."""
    if conversation_id is None:
        return None
    row = session.get(NotificationPreference, conversation_id)
    if row is None or row.choice == "none":
        return row.choice if row else None
    granted = session.scalars(
        select(ConsentRecord.granted)
        .where(ConsentRecord.conversation_id == conversation_id,
               ConsentRecord.purpose == f"notify:{row.choice}")
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc()).limit(1)).first()
    return row.choice if granted else None


def choose(session: Session, conversation: Conversation, choice: str,
           now: datetime) -> NotificationPreference:
    """Record `choice` (one of CHOICES) and the consent that carries it; replaces an earlier choice."""
    if choice not in CHOICES:
        raise ValueError(f"unknown notification choice {choice!r}")
    consent = record(session, conversation, choice != "none", now, purpose=f"notify:{choice}")
    row = session.get(NotificationPreference, conversation.id)
    if row is None:
        row = NotificationPreference(conversation_id=conversation.id, choice=choice)
        session.add(row)
    row.choice = choice
    row.basis = BASIS
    row.consent_id = consent.id
    row.updated_at = now
    session.flush()
    return row


def push_order(choice: str | None) -> list[str]:
    """The push channels a choice allows, best first (none: the chat only, as before any choice)."""
    if choice == "zalo":
        return ["zns", "sms"]
    if choice == "sms":
        return ["sms", "zns"]
    return []
