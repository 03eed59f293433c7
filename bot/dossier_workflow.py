"""How a dossier moves between statuses, and the citizen notification each move sends.

The console, the integration API and the citizen's supplement all call `change_status`, so a change made
anywhere has the same effect: the new status, a history row, an audit entry and a notification to the citizen
(bot/notify: the chat through the outbox under the messaging-window policy, then Zalo ZNS or SMS as the
citizen chose). The dates travel with it:
- acceptance (`waiting_acceptance` -> `received`) gives the official code (the one-stop system's, or the
  next of the day) and the appointment (the officer's, or computed from the acceptance moment);
- a supplement received after acceptance recomputes the appointment from the moment it arrives;
- `late` is the reschedule: a new date and the reason, sent as the apology slip ("Phiếu xin lỗi và hẹn
  lại ngày trả kết quả", NĐ 61/2018 as amended by NĐ 107/2021).
A computed date beyond the trusted holiday list is never promised: the officer gives it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from bot import dossier as dossiers
from bot.agency import Agency, local_today
from bot.dossier import find_official_code, result_pickup, shown_code, status_label
from bot.insight import satisfaction
from bot.messages import Reply
from bot.models import Conversation, Dossier, DossierStatusChange
from bot.models.dossier import STATUSES
from bot.models.staff import StaffUser
from bot.numbers import narrow
from bot.staff import audit
from bot.templates import text

MAX_NOTE = 1000
CITIZEN = "citizen"  # the actor of changes the citizen makes in the chat
MAX_ITEMS = 10
MAX_ITEM_LENGTH = 200
MAX_AHEAD = timedelta(days=730)  # an appointment further away than this is a typing mistake

# Where a dossier may go from each status. `received` from `waiting_acceptance` is the acceptance; the
# supplement flow (citizen side) moves a supplement_requested dossier back to `received` (accepted
# before) or `waiting_acceptance` (not yet), which puts it in the officers' queue again.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "waiting_acceptance": ("received", "supplement_requested", "rejected", "withdrawn"),
    "received": ("processing", "supplement_requested", "fee_requested", "suspended", "late", "result_ready",
                 "rejected", "withdrawn"),
    "processing": ("supplement_requested", "fee_requested", "suspended", "late", "result_ready", "rejected",
                   "withdrawn"),
    "supplement_requested": ("received", "waiting_acceptance", "processing", "rejected", "withdrawn"),
    "fee_requested": ("processing", "suspended", "late", "rejected", "withdrawn"),
    "suspended": ("processing", "late", "rejected", "withdrawn"),
    "late": ("late", "processing", "supplement_requested", "fee_requested", "suspended", "result_ready",
             "rejected", "withdrawn"),
    "result_ready": ("returned",),
    "returned": (),
    "rejected": (),
    "withdrawn": (),
}
# What the citizen may do themselves: send the documents asked for (the supplement flow).
CITIZEN_TRANSITIONS: dict[str, tuple[str, ...]] = {"supplement_requested": ("received", "waiting_acceptance")}
# Changes that need the officer's words to the citizen (the reason, what to pay and how).
NEEDS_NOTE = {
    "rejected": "Cần nêu lý do từ chối.",
    "fee_requested": "Cần ghi số tiền phí, lệ phí và cách nộp.",
    "suspended": "Cần nêu lý do tạm dừng xử lý.",
    "late": "Cần nêu lý do trễ hẹn (ghi trên phiếu xin lỗi).",
}
# Notices whose text already carries the officer's note as {reason}.
REASON_IN_TEXT = frozenset(NEEDS_NOTE)


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
        Dossier.status.not_in(dossiers.CLOSED_STATUSES),
        Dossier.appointment_date.is_not(None),
        Dossier.appointment_date < local_today(now),
    )


def code_clause(code: str) -> ColumnElement[bool]:
    """A dossier by its online reference or its official code."""
    return or_(Dossier.code == code, Dossier.official_code == code)


def _clean_items(items: Sequence[str] | None) -> list[str]:
    cleaned = [" ".join(item.split()) for item in items or () if item and item.strip()]
    if len(cleaned) > MAX_ITEMS:
        raise InvalidTransition(f"Tối đa {MAX_ITEMS} giấy tờ cần bổ sung.")
    if any(len(item) > MAX_ITEM_LENGTH for item in cleaned):
        raise InvalidTransition(f"Mỗi giấy tờ cần bổ sung tối đa {MAX_ITEM_LENGTH} ký tự.")
    return cleaned


def validate(
    dossier: Dossier, status: str, note: str | None, items: Sequence[str] | None, actor: str | None = None,
    *, official_code: str | None = None, appointment: date | None = None, today: date | None = None,
) -> list[str]:
    """Raise InvalidTransition unless the change is allowed (for `actor`) and complete; returns the items."""
    if status not in STATUSES:
        raise InvalidTransition(f"Trạng thái không hợp lệ: {status}.")
    if status not in allowed_next(dossier.status, actor):
        raise InvalidTransition(
            f"Không thể chuyển hồ sơ từ “{status_label(dossier.status)}” sang “{status_label(status)}”."
        )
    accepted = dossier.official_code is not None
    if status == "waiting_acceptance" and accepted:
        raise InvalidTransition("Hồ sơ đã được tiếp nhận, không thể chuyển về “Chờ tiếp nhận”.")
    if status == "received" and not accepted and actor == CITIZEN:
        raise InvalidTransition("Chỉ cán bộ mới tiếp nhận được hồ sơ.")
    if official_code is not None and (accepted or status != "received"):
        raise InvalidTransition("Mã hồ sơ chỉ được ghi khi tiếp nhận hồ sơ.")
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidTransition(f"Ghi chú tối đa {MAX_NOTE} ký tự.")
    cleaned = _clean_items(items)
    if status == "supplement_requested" and not cleaned:
        raise InvalidTransition("Cần nêu ít nhất một giấy tờ công dân phải bổ sung.")
    if status in NEEDS_NOTE and not (note or "").strip():
        raise InvalidTransition(NEEDS_NOTE[status])
    if appointment is not None:
        if status in dossiers.CLOSED_STATUSES or status in ("waiting_acceptance", "supplement_requested"):
            raise InvalidTransition("Trạng thái này không có ngày hẹn trả kết quả.")
        day = today or local_today()
        if not day <= appointment <= day + MAX_AHEAD:
            raise InvalidTransition("Ngày hẹn phải từ hôm nay trở đi và trong vòng hai năm.")
    if status == "late":
        if appointment is None:
            raise InvalidTransition("Cần nhập ngày hẹn mới.")
        if dossier.appointment_date is not None and appointment <= dossier.appointment_date:
            raise InvalidTransition("Ngày hẹn mới phải sau ngày hẹn cũ.")
    return cleaned


def _official(session: Session, given: str | None, agency: Agency, now: datetime) -> str:
    """The official code at acceptance: the one-stop system's (national format, unused) or the next one."""
    if given is None or not given.strip():
        return dossiers.official_code(session, agency, now)
    found = find_official_code(given)
    code = found[1] if found else ""
    typed = re.sub(r"\s+", "", narrow(given)).upper().replace("–", "-")
    if not code or typed != code or len(code) > 40:
        raise InvalidTransition("Mã hồ sơ phải theo mẫu <mã cơ quan>-<yyMMdd>-<số thứ tự>, "
                                "ví dụ 000.00.12.H62-261204-0001.")
    if session.scalar(select(Dossier.id).where(code_clause(code))) is not None:
        raise InvalidTransition(f"Mã hồ sơ {code} đã được dùng cho hồ sơ khác.")
    return code


def _computed_date(dossier: Dossier, agency: Agency, now: datetime) -> date | None:
    """The appointment counted from `now` (acceptance or supplement); None beyond the trusted holiday list."""
    if dossier.processing_value is None or not dossier.processing_unit:
        return None
    return agency.promised_date(now, dossier.processing_value, dossier.processing_unit, local_today(now))


def notification(dossier: Dossier, note: str | None) -> Reply:
    """The message the citizen gets for the dossier's (new) status; `note` is an officer's note to them."""
    from bot.catalog.store import Catalog

    items = "\n".join(f"- {item}" for item in dossier.supplement_items or ())
    pickup = result_pickup(dossier.procedure_code, Catalog.load()) if dossier.status == "result_ready" else ""
    key = f"staff.notify_{dossier.status}"
    if dossier.status == "received" and dossier.accepted_at != dossier.updated_at:
        key = "staff.notify_received_again"  # back after a supplement, not the acceptance itself
    body = text(
        key,
        code=shown_code(dossier),
        reference=dossier.code,
        official_code=dossier.official_code or "",
        procedure=dossier.procedure_name or dossier.procedure_code,
        agency=Agency.load().name,
        appointment=dossiers.date_line(dossier.appointment_date, None, dossier.status),
        items=items,
        pickup=pickup,
        reason=(note or "").strip().rstrip("."),
    )
    if note and note.strip() and dossier.status not in REASON_IN_TEXT:
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
    official_code: str | None = None,
    appointment: date | None = None,
) -> DossierStatusChange:
    """Move `dossier` to `status`: history, audit entry and citizen notification, in the caller's transaction.

    `actor` is `staff:<username>`, `api` or `citizen`; `items` lists what to add (supplement_requested).
    `official_code` (acceptance only; else the next code of the day) and `appointment` (acceptance, or a
    new date; required for `late`) come from the officer or the one-stop system.
    """
    from bot.notify.plan import notify
    from bot.transcript import enqueue

    note = (note or "").strip() or None
    official_code = (official_code or "").strip() or None
    today = local_today(now)
    cleaned = validate(dossier, status, note, items, actor, official_code=official_code,
                       appointment=appointment, today=today)
    agency = Agency.load()
    accepting = status == "received" and dossier.official_code is None
    before = dossier.appointment_date
    if accepting:
        due = appointment or _computed_date(dossier, agency, now)
        if due is None:
            raise InvalidTransition(
                f"Lịch nghỉ lễ chỉ chắc chắn đến {agency.list_ends(today):%d/%m/%Y}: "
                "cần nhập ngày hẹn trả kết quả khi tiếp nhận."
            )
        dossier.official_code = _official(session, official_code, agency, now)
        dossier.accepted_at = now
        dossier.appointment_date = due
    elif status == "received" and dossier.status == "supplement_requested":
        # The complete dossier arrived now: the processing time counts again from here (or the officer's).
        dossier.appointment_date = appointment or _computed_date(dossier, agency, now)
    elif appointment is not None:
        dossier.appointment_date = appointment
    # A citizen's own change (the supplement flow) notes what they did in the history only: the
    # status note and the notification carry what an officer tells the citizen.
    officer_note = None if actor == CITIZEN else note
    previous = dossier.status
    dossier.status = status
    dossier.status_note = officer_note
    if status == "supplement_requested":
        dossier.supplement_items = cleaned
    dossier.updated_at = now
    if accepting or dossier.appointment_date != before:
        dated = dossier.appointment_date.strftime("%d/%m/%Y") if dossier.appointment_date else "-"
        note = " · ".join(x for x in (note, f"Mã hồ sơ: {dossier.official_code}" if accepting else None,
                                      f"Ngày hẹn: {dated}") if x)
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
