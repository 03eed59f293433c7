"""Raw inbound webhook events, stored before the webhook answers 200."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, partial_index, utcnow


class InboundEvent(Base):
    __tablename__ = "inbound_event"
    # A platform retry carries the same id: the unique key makes it a no-op.
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        # The work queue (claim_events): the unfinished events in order.
        partial_index("ix_inbound_event_queue", "id", where="status IN ('pending', 'processing')"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # exact request bytes of the event
    inbound: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # parsed `Inbound`, None if not a turn
    # message | echo (our own send) | staff (typed by staff on the platform) | receipt | standby | control
    # | unfollow | ignored
    kind: Mapped[str] = mapped_column(String(12), default="message")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # kind-specific facts (echo text, ids)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending | processing | done | ignored | failed
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
