"""Leases of the data-lifecycle jobs: one row per job, so several processes never run the same job at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class MaintenanceLease(Base):
    """Who runs a lifecycle job now and until when (a crashed holder's lease simply runs out)."""

    __tablename__ = "maintenance_lease"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
