"""Replies waiting to be sent; written in the same transaction as the conversation state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, partial_index, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # The send queue (claim_outbox): unsent items in order.
        partial_index("ix_outbox_message_queue", "id", where="status IN ('pending', 'sending')"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)  # `Reply.to_dict()`
    in_reply_to: Mapped[str | None] = mapped_column(String(200))  # citizen message id (Zalo quota)
    # kind of message for the window policy: reply | notification | staff
    purpose: Mapped[str] = mapped_column(String(20), default="reply")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending | sending | sent | held (window closed; goes out when the citizen writes) | failed
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    platform_message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From the platforms' delivery and read receipts (bot/pipeline/receipts.py).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
