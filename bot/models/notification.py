"""Status-change notifications to citizens and how each citizen wants to be told.

One `Notification` per status change of a dossier: the channels still to try (in order of preference),
the one it reached the citizen on, and every attempt with the platform's answer. The citizen's choice
(`NotificationPreference`) is one row per conversation, tied to the consent record that carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, partial_index, utcnow


class NotificationPreference(Base):
    """How the citizen of a conversation wants to hear about their dossiers: chat | zalo | sms | none."""

    __tablename__ = "notification_preference"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True
    )
    choice: Mapped[str] = mapped_column(String(10))
    # Legal basis of sending to the phone number: "consent" (the citizen chose it; consent_id is the proof).
    basis: Mapped[str] = mapped_column(String(40), default="consent")
    consent_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One status change told to a citizen (or the attempt to): sent by one channel, with fallbacks."""

    __tablename__ = "notification"
    __table_args__ = (
        partial_index("ix_notification_queue", "id", where="state IN ('pending', 'sending')"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), index=True)
    dossier_status: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text, default="")  # the chat text; SMS / ZNS are built from the fields
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # code, status label, appointment ...
    # Channels still to try, best first: chat | zns | sms.
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[str | None] = mapped_column(String(10))  # the channel being tried / that reached
    # pending | sending | sent | delivered | failed (every channel refused) | none (no channel to try)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # on the current channel
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # chat channel: the outbox item carrying it
    platform_id: Mapped[str | None] = mapped_column(String(200))  # ZNS msg_id / eSMS SMSID
    error: Mapped[str | None] = mapped_column(Text)
    tries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {channel, result, error, at}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
