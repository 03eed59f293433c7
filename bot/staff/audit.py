"""The audit trail: who viewed or changed which dossier, conversation, file or account.

Entries name objects by id/code and fields by name; personal data values never go into `detail`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models.staff import AuditLog, StaffUser


def actor_name(user: StaffUser | None) -> str:
    return f"staff:{user.username}" if user is not None else "api"


def record(
    session: Session,
    user: StaffUser | None,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    detail: str | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> AuditLog:
    """Add one entry in the caller's transaction (so a rolled-back change leaves no entry)."""
    entry = AuditLog(
        staff_id=user.id if user is not None else None,
        actor=actor or actor_name(user),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail,
        at=now or utcnow(),
    )
    session.add(entry)
    return entry


def recent(
    session: Session,
    *,
    limit: int = 200,
    object_type: str | None = None,
    object_id: str | None = None,
    staff_id: int | None = None,
) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if staff_id is not None:
        query = query.where(AuditLog.staff_id == staff_id)
    return list(session.scalars(query))
