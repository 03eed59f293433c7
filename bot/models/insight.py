"""What the centre learns from its chats: citizens' satisfaction, reviewed NLU examples, trained models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


class SatisfactionRating(Base):
    """One 1–5 question, asked once per `subject` (a dossier, or a conversation closed on a given day)."""

    __tablename__ = "satisfaction_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(60), unique=True)  # dossier:<id> | conversation:<id>:<day>
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id", ondelete="SET NULL"))
    # The officer who closed the conversation (results by officer, for admins).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    score: Mapped[int | None] = mapped_column(Integer)  # None: not answered (yet) or skipped
    skipped: Mapped[bool] = mapped_column(default=False)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NluExample(Base):
    """A citizen message a reviewer labelled (or dismissed); `text` is masked before it is stored."""

    __tablename__ = "nlu_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(50))
    procedure_code: Mapped[str | None] = mapped_column(String(20))
    dismissed: Mapped[bool] = mapped_column(default=False)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NluModelRecord(Base):
    """A model `motcua nlu retrain` trained, its figures, and whether it went into service."""

    __tablename__ = "nlu_model_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(300))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    examples: Mapped[int] = mapped_column(Integer, default=0)  # reviewed examples it was trained with
    heldout_accuracy: Mapped[float | None] = mapped_column(Float)
    previous_accuracy: Mapped[float | None] = mapped_column(Float)
    reviewed_accuracy: Mapped[float | None] = mapped_column(Float)
    deployed: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
