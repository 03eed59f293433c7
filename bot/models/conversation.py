"""A conversation is one citizen on one channel; its messages are the transcript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime, partial_index, utcnow


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last time the citizen wrote: the messaging-window policy counts from here.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_message_id: Mapped[str | None] = mapped_column(String(200))
    # bot | waiting_human | human (an officer owns it, the bot stays silent) | paused (platform owner)
    mode: Mapped[str] = mapped_column(String(20), default="bot")
    handoff_reason: Mapped[str | None] = mapped_column(String(50))
    handoff_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_staff_id: Mapped[int | None] = mapped_column(Integer)
    # Dialogue state of the active flow (flow name, step, slots, counters); engine-owned JSON.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the citizen agreed to give us (name, phone ...), only after consent.
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failed_understanding: Mapped[int] = mapped_column(Integer, default=0)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """One line of the transcript, in either direction."""

    __tablename__ = "message"
    # The dashboard and the review inbox read the transcript by period; the partial indexes stay small
    # (citizens' words, the rare outcomes, officers' answers) and serve its counts without the table.
    __table_args__ = (
        Index("ix_message_created_at", "created_at"),
        partial_index("ix_message_citizen", "created_at", "conversation_id", where="author = 'citizen'"),
        partial_index("ix_message_outcome", "outcome", "created_at", where="outcome IS NOT NULL"),
        partial_index("ix_message_staff", "conversation_id", "created_at", where="author = 'staff'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(10))  # citizen | bot | staff
    text: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # Inbound / Reply as dict
    intent: Mapped[str | None] = mapped_column(String(50))
    # What the NLU made of a citizen's words (review inbox, dashboard): its confidence in `intent`, the
    # best-ranked procedure and its score, and what the bot did: "fallback" or "handoff_<reason>".
    confidence: Mapped[float | None] = mapped_column(Float)
    procedure_code: Mapped[str | None] = mapped_column(String(20))
    procedure_score: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
