"""Consent to personal-data processing and the log of erasures (Law 91/2025/QH15, Decree 356/2025).

Both tables are the proof the centre must be able to show: when a citizen agreed to which text version,
and that an erasure request was carried out. They hold ids, versions and counts, never personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


class ConsentRecord(Base):
    """One answer to a consent request (granted or refused), or a withdrawal (granted = False)."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(40))  # e.g. dossier
    text_version: Mapped[str] = mapped_column(String(40))  # bot.consent.CONSENT_VERSION shown to the citizen
    granted: Mapped[bool] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ErasureRecord(Base):
    """That an erasure was done, and how much it removed or kept: counts only (the deletion log)."""

    __tablename__ = "erasure_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the log outlives whatever it describes.
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(100), default="citizen")  # citizen | staff:<username>
    profile_fields: Mapped[int] = mapped_column(Integer, default=0)
    draft_cleared: Mapped[bool] = mapped_column(default=False)
    messages_deleted: Mapped[int] = mapped_column(Integer, default=0)
    events_cleared: Mapped[int] = mapped_column(Integer, default=0)
    outbox_deleted: Mapped[int] = mapped_column(Integer, default=0)
    files_deleted: Mapped[int] = mapped_column(Integer, default=0)
    dossiers_kept: Mapped[int] = mapped_column(Integer, default=0)
    files_kept: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
