"""How a dossier moves between statuses, and the citizen notification each move sends.

The console and the integration API both call `change_status`, so a change made in either place has the
same effect: the new status, a history row, an audit entry and a notification to the citizen (bot/notify:
the chat through the outbox under the messaging-window policy, then Zalo ZNS or SMS as the citizen chose).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from bot import dossier as dossiers
from bot.agency import local_today
from bot.dossier import status_label
from bot.insight import satisfaction
from bot.messages import Reply
from bot.models import Conversation, Dossier, DossierStatusChange
from bot.models.dossier import STATUSES
from bot.models.staff import StaffUser
from bot.staff import audit
from bot.templates import text

MAX_NOTE = 1000
CITIZEN = "citizen"  # the actor of changes the citizen makes in the chat
MAX_ITEMS = 10
MAX_ITEM_LENGTH = 200

# Where a dossier may go from each status. The supplement flow (citizen side) moves a
# supplement_requested dossier back to `received`, which puts it in the officers' queue again.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("processing", "supplement_requested", "rejected", "withdrawn"),
    "processing": ("supplement_requested", "result_ready", "rejected", "withdrawn"),
    "supplement_requested": ("received", "processing", "rejected", "withdrawn"),
    "result_ready": ("returned",),
    "returned": (),
    "rejected": (),
    "withdrawn": (),
}
# What the citizen may do themselves: send the documents asked for (the supplement flow).
CITIZEN_TRANSITIONS: dict[str, tuple[str, ...]] = {"supplement_requested": ("received",)}


class InvalidTransition(ValueError):
    """A status change that is not allowed or lacks what it needs; the message is shown to the officer."""


def allowed_next(status: str, actor: str | None = None) -> tuple[str, ...]:
    """The statuses `actor` may move a dossier in `status` to (officers and the API: all of TRANSITIONS)."""
    if actor == CITIZEN:
        return CITIZEN_TRANSITIONS.get(status, ())
    return TRANSITIONS.get(status, ())


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """bot.dossier.is_overdue's rule (derived from the appointment date, never stored), for a query."""
    return and_(
        Dossier.status.not_in(dossiers.CLOSED_STATUSES), Dossier.appointment_date < local_today(now)
    )


def _clean_items(items: Sequence[str] | None) -> list[str]:
    cleaned = [" ".join(item.split()) for item in items or () if item and item.strip()]
    if len(cleaned) > MAX_ITEMS:
        raise InvalidTransition(f"Tối đa {MAX_ITEMS} giấy tờ cần bổ sung.")
    if any(len(item) > MAX_ITEM_LENGTH for item in cleaned):
        raise InvalidTransition(f"Mỗi giấy tờ cần bổ sung tối đa {MAX_ITEM_LENGTH} ký tự.")
    return cleaned


def validate(
    dossier: Dossier, status: str, note: str | None, items: Sequence[str] | None, actor: str | None = None
) -> list[str]:
    """Raise InvalidTransition unless the change is allowed (for `actor`) and complete; returns the items."""
    if status not in STATUSES:
        raise InvalidTransition(f"Trạng thái không hợp lệ: {status}.")
    if status not in allowed_next(dossier.status, actor):
        raise InvalidTransition(
            f"Không thể chuyển hồ sơ từ “{status_label(dossier.status)}” sang “{status_label(status)}”."
        )
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidTransition(f"Ghi chú tối đa {MAX_NOTE} ký tự.")
    cleaned = _clean_items(items)
    if status == "supplement_requested" and not cleaned:
        raise InvalidTransition("Cần nêu ít nhất một giấy tờ công dân phải bổ sung.")
    if status == "rejected" and not (note or "").strip():
        raise InvalidTransition("Cần nêu lý do từ chối.")
    return cleaned


def notification(dossier: Dossier, note: str | None) -> Reply:
    """The message the citizen gets for the dossier's (new) status; `note` is an officer's note to them."""
    appointment = dossier.appointment_date.strftime("%d/%m/%Y")
    items = "\n".join(f"- {item}" for item in dossier.supplement_items or ())
    body = text(
        f"staff.notify_{dossier.status}",
        code=dossier.code,
        appointment=appointment,
        items=items,
        reason=(note or "").strip(),
    )
    if note and note.strip() and dossier.status != "rejected":
        body = f"{body}\n{text('staff.notify_note', note=note.strip())}"
    return Reply(kind="text", text=body)


def change_status(
    session: Session,
    dossier: Dossier,
    status: str,
    note: str | None,
    actor: str,
    now: datetime,
    *,
    items: Sequence[str] | None = None,
    staff: StaffUser | None = None,
) -> DossierStatusChange:
    """Move `dossier` to `status`: history, audit entry and citizen notification, in the caller's transaction.

    `actor` is `staff:<username>`, `api` or `citizen`; `items` lists what to add (supplement_requested).
    """
    from bot.notify.plan import notify
    from bot.transcript import enqueue

    note = (note or "").strip() or None
    cleaned = validate(dossier, status, note, items, actor)
    # A citizen's own change (the supplement flow) notes what they did in the history only: the
    # status note and the notification carry what an officer tells the citizen.
    officer_note = None if actor == CITIZEN else note
    previous = dossier.status
    dossier.status = status
    dossier.status_note = officer_note
    if status == "supplement_requested":
        dossier.supplement_items = cleaned
    dossier.updated_at = now
    change = DossierStatusChange(dossier_id=dossier.id, status=status, note=note, actor=actor, created_at=now)
    session.add(change)
    audit.record(
        session,
        staff,
        "dossier.status",
        "dossier",
        dossier.code,
        f"{previous} -> {status}",
        actor=actor,
        now=now,
    )
    conversation = session.get(Conversation, dossier.conversation_id) if dossier.conversation_id else None
    # Every status change is a notification: the chat while its window is open, then ZNS / SMS as chosen.
    notify(session, dossier, conversation, notification(dossier, officer_note), now)
    if conversation is not None:
        staff_id = staff.id if staff else None
        question = (satisfaction.after_return(session, conversation, dossier, staff_id, now)
                    if status == "returned" else None)
        if question is not None:
            enqueue(session, conversation, question, purpose="notification")
    session.flush()
    return change
