"""Dossiers (hồ sơ) submitted through the bot, their documents and their status history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime, utcnow

# Status codes; Vietnamese labels live in data/templates.
# "waiting_acceptance": submitted through the bot, no officer has accepted it yet (no official code, no
# appointment). "received": accepted by an officer, with the official code and the appointment date.
# "late": the appointment was missed or will be, the officer gave a new date and the apology slip went out.
STATUSES = (
    "waiting_acceptance", "received", "processing", "supplement_requested", "fee_requested", "suspended",
    "late", "result_ready", "returned", "rejected", "withdrawn",
)


class Dossier(Base):
    __tablename__ = "dossier"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The bot's own pre-registration reference ("mã tiếp nhận trực tuyến", e.g. TN-4F7K-2Q9V), given at
    # submission; the official dossier code comes only from an officer's acceptance.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    official_code: Mapped[str | None] = mapped_column(String(40), unique=True)  # <agency>-<yyMMdd>-<NNNN>
    procedure_code: Mapped[str] = mapped_column(String(20), index=True)
    # Name as shown on the receipt, kept with the dossier so it reads the same if the catalogue changes.
    procedure_name: Mapped[str] = mapped_column(String(300), default="")
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    applicant: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # collected fields
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # +84..., for staff search
    status: Mapped[str] = mapped_column(String(24), default="waiting_acceptance", index=True)
    status_note: Mapped[str | None] = mapped_column(Text)
    # What the officer asked the citizen to add (status supplement_requested); read by the supplement flow.
    supplement_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The date promised to the citizen: set at acceptance (computed or given by the officer), moved by a
    # reschedule or a supplement; None while nobody has promised one.
    appointment_date: Mapped[date | None] = mapped_column(Date)
    # Shown before acceptance, labelled as an estimate; None when beyond the trusted holiday list.
    estimated_date: Mapped[date | None] = mapped_column(Date)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The procedure's processing time when submitted, so acceptance and supplements can recompute the date.
    processing_value: Mapped[float | None] = mapped_column(Float)
    processing_unit: Mapped[str | None] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    documents: Mapped[list[DossierDocument]] = relationship(
        back_populates="dossier", order_by="DossierDocument.id", cascade="all, delete-orphan"
    )
    history: Mapped[list[DossierStatusChange]] = relationship(
        back_populates="dossier", order_by="DossierStatusChange.id", cascade="all, delete-orphan"
    )


class StoredFile(Base):
    """A file a citizen sent, stored under a generated name; never under the name they gave."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"), index=True
    )
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DossierDocument(Base):
    __tablename__ = "dossier_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(200))  # checklist item name
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id", ondelete="SET NULL"))
    not_applicable: Mapped[bool] = mapped_column(default=False)
    supplement: Mapped[bool] = mapped_column(default=False)
    from_card: Mapped[bool] = mapped_column(default=False)  # the ID card photo read to fill in the details
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dossier: Mapped[Dossier] = relationship(back_populates="documents")
    file: Mapped[StoredFile | None] = relationship()


class DossierStatusChange(Base):
    __tablename__ = "dossier_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))  # citizen | bot | staff:<username> | api
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dossier: Mapped[Dossier] = relationship(back_populates="history")


class DossierSequence(Base):
    """Daily counter per agency; incremented under a row lock so concurrent submissions get distinct codes."""

    __tablename__ = "dossier_sequence"
    __table_args__ = (UniqueConstraint("agency_code", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(30))
    day: Mapped[date] = mapped_column(Date)
    last: Mapped[int] = mapped_column(Integer, default=0)
