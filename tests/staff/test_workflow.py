"""Dossier status transitions: what is allowed, what each needs, and the history, audit and notification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction
from bot.dossier import is_overdue, status_label
from bot.dossier_workflow import (
    CITIZEN,
    TRANSITIONS,
    InvalidTransition,
    allowed_next,
    change_status,
    code_clause,
)
from bot.messages import Reply
from bot.models import AuditLog, Dossier, DossierStatusChange, Message, OutboxMessage
from bot.models.dossier import STATUSES
from bot.templates import has

from .conftest import add_conversation, add_dossier

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def _change(
    app: Flask, code: str, status: str, note: str | None = None, items: list[str] | None = None,
    now: datetime = NOW, actor: str = "staff:canbo1", **given: object,
) -> Dossier:
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier).where(code_clause(code))).one()
        change_status(session, dossier, status, note, actor, now, items=items, **given)  # type: ignore[arg-type]
        session.expunge(dossier)
        return dossier


def _outbox(app: Flask) -> list[OutboxMessage]:
    with app.extensions["motcua"].sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_every_status_has_a_label_and_a_notification_text() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for status in STATUSES:
        assert status_label(status)
        assert has(f"staff.notify_{status}")
    assert status_label("result_ready") == "Đã có kết quả, chờ trả"
    assert status_label("withdrawn") == "Công dân rút hồ sơ"


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        (["processing", "result_ready", "returned"], {}),
        (["supplement_requested", "received", "processing"], {"items": ["Bản sao giấy chứng sinh"]}),
        (["withdrawn"], {}),
        (["processing", "rejected"], {"note": "Không thuộc thẩm quyền của xã"}),
    ],
)
def test_allowed_paths_write_history_audit_and_notify(app: Flask, path: list[str], extra: dict) -> None:  # type: ignore[type-arg]
    conv = add_conversation(app, mode="bot", reason=None)
    code = add_dossier(app, conv)
    for status in path:
        note = extra.get("note") if status == "rejected" else None
        items = extra.get("items") if status == "supplement_requested" else None
        _change(app, code, status, note, items)
    with app.extensions["motcua"].sessions() as session:
        dossier = session.scalars(select(Dossier).where(Dossier.code == code)).one()
        assert dossier.status == path[-1]
        history = [
            h.status for h in session.scalars(select(DossierStatusChange).order_by(DossierStatusChange.id))
        ]
        assert history == ["received", *path]
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "dossier.status")).all()
        assert [e.detail.split(" -> ")[1] for e in entries] == path
        assert all(e.actor == "staff:canbo1" and e.object_id == code for e in entries)
        transcript = session.scalars(select(Message).where(Message.conversation_id == conv)).all()
        asked = path[-1] == "returned"  # a returned result adds the satisfaction question
        assert len(transcript) == len(path) + asked
    sent = _outbox(app)
    assert [o.purpose for o in sent] == ["notification"] * (len(path) + asked)
    if asked:
        assert "hài lòng" in Reply.from_dict(sent.pop().reply).text
    assert all(o.channel == "facebook" and o.user_id == "psid-1" for o in sent)
    assert all(code in Reply.from_dict(o.reply).text for o in sent)


def test_supplement_notification_lists_the_items(app: Flask) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None))
    _change(app, code, "supplement_requested", "Ảnh chụp rõ nét", ["Bản sao CCCD của cha", "Giấy chứng sinh"])
    text = Reply.from_dict(_outbox(app)[-1].reply).text
    assert "- Bản sao CCCD của cha\n- Giấy chứng sinh" in text
    assert "Ảnh chụp rõ nét" in text
    with app.extensions["motcua"].sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert dossier.supplement_items == ["Bản sao CCCD của cha", "Giấy chứng sinh"]
        assert dossier.status_note == "Ảnh chụp rõ nét"


def test_the_citizen_may_only_send_back_a_dossier_waiting_for_documents(app: Flask) -> None:
    conv = add_conversation(app, mode="bot", reason=None)
    code = add_dossier(app, conv)
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier)).one()
        for status in ("processing", "withdrawn", "supplement_requested"):
            with pytest.raises(InvalidTransition, match="Không thể chuyển"):
                change_status(session, dossier, status, None, CITIZEN, NOW, items=["Giấy tờ"])
    assert allowed_next("supplement_requested", CITIZEN) == ("received", "waiting_acceptance")
    _change(app, code, "supplement_requested", None, ["Bản sao CCCD"])
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier)).one()
        change_status(session, dossier, "received", "Công dân đã bổ sung 2 giấy tờ", CITIZEN, NOW)
    with app.extensions["motcua"].sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert (dossier.status, dossier.status_note) == ("received", None)
        last = dossier.history[-1]
        # The date is counted again from the supplement (1 working day, Monday 10:00: the same day).
        assert (last.status, last.actor, last.note) == (
            "received", CITIZEN, "Công dân đã bổ sung 2 giấy tờ · Ngày hẹn: 30/11/2026")
        entry = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert entry is not None and (entry.actor, entry.staff_id) == (CITIZEN, None)
    notice = Reply.from_dict(_outbox(app)[-1].reply).text
    assert code in notice and "tiếp nhận lại" in notice and "Ghi chú" not in notice  # not an officer's note


def test_rejection_tells_the_reason(app: Flask) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None))
    _change(app, code, "rejected", "Thiếu chữ ký người yêu cầu")
    assert "Lý do: Thiếu chữ ký người yêu cầu" in Reply.from_dict(_outbox(app)[-1].reply).text


@pytest.mark.parametrize(
    ("start", "status", "note", "items", "message"),
    [
        ("received", "returned", None, None, "Không thể chuyển"),
        ("received", "received", None, None, "Không thể chuyển"),
        ("returned", "processing", None, None, "Không thể chuyển"),
        ("withdrawn", "processing", None, None, "Không thể chuyển"),
        ("received", "done", None, None, "không hợp lệ"),
        ("received", "supplement_requested", None, None, "ít nhất một giấy tờ"),
        ("received", "supplement_requested", None, ["  ", ""], "ít nhất một giấy tờ"),
        ("received", "supplement_requested", None, [f"giấy {i}" for i in range(11)], "Tối đa 10"),
        ("received", "rejected", None, None, "lý do"),
        ("received", "rejected", "   ", None, "lý do"),
        ("received", "processing", "x" * 1001, None, "Ghi chú tối đa"),
    ],
)
def test_invalid_changes_are_refused_and_change_nothing(
    app: Flask, start: str, status: str, note: str | None, items: list[str] | None, message: str
) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None), status=start)
    with pytest.raises(InvalidTransition, match=message):
        _change(app, code, status, note, items)
    with app.extensions["motcua"].sessions() as session:
        assert session.scalars(select(Dossier)).one().status == start
        assert session.query(AuditLog).count() == 0
    assert _outbox(app) == []


def test_dossier_without_conversation_changes_without_notification(app: Flask) -> None:
    code = add_dossier(app, None)
    _change(app, code, "processing")
    assert _outbox(app) == []
    with app.extensions["motcua"].sessions() as session:
        assert session.scalars(select(Dossier)).one().status == "processing"


def test_overdue_is_derived_from_the_appointment_date() -> None:
    today = local_today(NOW)
    dossier = Dossier(status="processing", appointment_date=date(2026, 11, 29))
    assert is_overdue(dossier, today)
    assert not is_overdue(Dossier(status="processing", appointment_date=date(2026, 11, 30)), today)
    assert not is_overdue(Dossier(status="result_ready", appointment_date=date(2026, 11, 1)), today)
    # 17:30 UTC on the 29th is already 00:30 on the 30th in Hà Nội; 16:30 UTC is still the 29th.
    late = datetime(2026, 11, 29, 17, 30, tzinfo=UTC)
    due_29 = Dossier(status="received", appointment_date=date(2026, 11, 29))
    assert is_overdue(due_29, local_today(late))
    assert not is_overdue(due_29, local_today(late - timedelta(hours=1)))


# ------------------------------------------------------------------------------- honest codes and dates

REF = "TN-4F7K-2Q9V"


def _waiting(app: Flask, conv: int | None = None, procedure: str = "1.001193") -> str:
    """A dossier just submitted through the bot: reference only, waiting for an officer."""
    if conv is None:
        conv = add_conversation(app, mode="bot", reason=None)
    return add_dossier(app, conv, code=REF, status="waiting_acceptance", procedure=procedure)


# Every transition, table-driven: (from, to) allowed for officers, and what the citizen may do.
@pytest.mark.parametrize(("start", "allowed"), sorted(TRANSITIONS.items()))
def test_transition_table(start: str, allowed: tuple[str, ...]) -> None:
    assert allowed_next(start) == allowed
    assert set(allowed) <= set(STATUSES)
    closed = {"returned", "rejected", "withdrawn"}
    assert (allowed == ()) is (start in closed)
    if start not in closed | {"result_ready"}:
        assert {"rejected", "withdrawn"} <= set(allowed), "an open dossier can always be refused or withdrawn"
    assert allowed_next(start, CITIZEN) == (("received", "waiting_acceptance")
                                            if start == "supplement_requested" else ())


def test_acceptance_gives_the_official_code_and_the_date_and_tells_the_citizen(app: Flask) -> None:
    code = _waiting(app)
    # Monday 30/11/2026 10:00 in Hà Nội, a 1-working-day procedure: due the same day.
    dossier = _change(app, REF, "received")
    assert dossier.official_code == "000.00.12.H62-261130-0001"
    assert dossier.appointment_date == date(2026, 11, 30) and dossier.accepted_at is not None
    with app.extensions["motcua"].sessions() as session:
        last = session.scalars(select(DossierStatusChange).order_by(DossierStatusChange.id.desc())).first()
        assert last is not None and "000.00.12.H62-261130-0001" in (last.note or "")
    notice = Reply.from_dict(_outbox(app)[-1].reply).text
    assert code in notice and "Mã hồ sơ: 000.00.12.H62-261130-0001" in notice
    assert "Ngày hẹn trả kết quả: 30/11/2026" in notice and "tiếp nhận" in notice


def test_acceptance_takes_the_one_stop_systems_code_and_date(app: Flask) -> None:
    _waiting(app)
    dossier = _change(app, REF, "received", official_code=" 000.00.12.h62-261130-0042 ",
                      appointment=date(2026, 12, 4))
    assert dossier.official_code == "000.00.12.H62-261130-0042"
    assert dossier.appointment_date == date(2026, 12, 4)
    # Addressable by either code from now on.
    assert _change(app, "000.00.12.H62-261130-0042", "processing").status == "processing"
    assert _change(app, REF, "late", "Chờ xác minh", appointment=date(2026, 12, 8)).status == "late"


@pytest.mark.parametrize(("given", "message"), [
    ({"official_code": "HS-123"}, "mẫu"),
    ({"official_code": "TN-4F7K-2Q9V"}, "mẫu"),
    ({"official_code": "000.00.12.H62-261130-0001 và thêm"}, "mẫu"),
    ({"official_code": "000.00.12.H62-261129-0009"}, "đã được dùng"),
    ({"appointment": date(2026, 11, 29)}, "từ hôm nay"),
])
def test_acceptance_refuses_a_bad_code_or_date(app: Flask, given: dict, message: str) -> None:  # type: ignore[type-arg]
    add_dossier(app, None, code="000.00.12.H62-261129-0009")  # already accepted
    _waiting(app)
    with pytest.raises(InvalidTransition, match=message):
        _change(app, REF, "received", **given)
    with app.extensions["motcua"].sessions() as session:
        d = session.scalars(select(Dossier).where(Dossier.code == REF)).one()
        assert (d.status, d.official_code, d.appointment_date) == ("waiting_acceptance", None, None)


def test_no_date_beyond_the_holiday_list_is_computed_at_acceptance(app: Flask) -> None:
    _waiting(app)
    # 03/02/2027 16:30, the eve of the unconfirmed Tết 2027: the computed date is after the list.
    eve = datetime(2027, 2, 3, 9, 30, tzinfo=UTC)
    with pytest.raises(InvalidTransition, match=r"03/02/2027.*ngày hẹn"):
        _change(app, REF, "received", now=eve)
    dossier = _change(app, REF, "received", now=eve, appointment=date(2027, 2, 11))
    assert dossier.appointment_date == date(2027, 2, 11)


def test_only_officers_accept_and_codes_are_given_only_at_acceptance(app: Flask) -> None:
    _waiting(app)
    with pytest.raises(InvalidTransition):
        _change(app, REF, "received", actor=CITIZEN)
    with pytest.raises(InvalidTransition, match="chỉ được ghi khi tiếp nhận"):
        _change(app, REF, "rejected", "Sai thủ tục", official_code="000.00.12.H62-261130-0001")
    accepted = add_dossier(app, None, code="000.00.12.H62-261129-0002", status="processing")
    with pytest.raises(InvalidTransition, match="chỉ được ghi khi tiếp nhận"):
        _change(app, accepted, "late", "x", official_code="000.00.12.H62-261130-0001",
                appointment=date(2026, 12, 30))


def test_a_supplement_before_acceptance_goes_back_to_waiting(app: Flask) -> None:
    _waiting(app)
    _change(app, REF, "supplement_requested", items=["Giấy chứng sinh"])
    with pytest.raises(InvalidTransition):
        _change(app, REF, "received", actor=CITIZEN)
    dossier = _change(app, REF, "waiting_acceptance", "Đã bổ sung", actor=CITIZEN)
    assert (dossier.status, dossier.official_code) == ("waiting_acceptance", None)
    assert dossier.appointment_date is None
    assert "chờ cán bộ tiếp nhận" in Reply.from_dict(_outbox(app)[-1].reply).text


def test_a_supplement_after_acceptance_recomputes_the_date(app: Flask) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None), appointment=date(2026, 12, 1))
    _change(app, code, "supplement_requested", items=["Giấy chứng sinh"])
    # Received Tuesday 01/12/2026 16:30: after the cut-off, 1 working day: Wednesday.
    dossier = _change(app, code, "received", "Đã bổ sung", actor=CITIZEN,
                      now=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    assert dossier.appointment_date == date(2026, 12, 2)
    notice = Reply.from_dict(_outbox(app)[-1].reply).text
    assert "tiếp nhận lại" in notice and "02/12/2026" in notice


def test_reschedule_sends_the_apology_slip_with_the_new_date(app: Flask) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None), status="processing",
                       appointment=date(2026, 12, 1))
    for given, message in [({}, "ngày hẹn mới"), ({"appointment": date(2026, 12, 1)}, "sau ngày hẹn cũ")]:
        with pytest.raises(InvalidTransition, match=message):
            _change(app, code, "late", "Chờ xác minh của Công an", **given)
    with pytest.raises(InvalidTransition, match="lý do"):
        _change(app, code, "late", None, appointment=date(2026, 12, 7))
    dossier = _change(app, code, "late", "Chờ kết quả xác minh", appointment=date(2026, 12, 7))
    assert (dossier.status, dossier.appointment_date) == ("late", date(2026, 12, 7))
    slip = Reply.from_dict(_outbox(app)[-1].reply).text
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in slip and "xin lỗi" in slip
    assert "Lý do: Chờ kết quả xác minh." in slip and "07/12/2026" in slip and code in slip
    assert "Ghi chú" not in slip  # the reason is in the slip, not repeated as a note
    # Late again: a second slip with a later date; then the result.
    assert _change(app, code, "late", "Hệ thống lỗi", appointment=date(2026, 12, 9)).appointment_date == \
        date(2026, 12, 9)
    assert _change(app, code, "result_ready").status == "result_ready"


@pytest.mark.parametrize(("status", "note", "expected"), [
    ("fee_requested", "Lệ phí 8.000 đồng, nộp tại quầy hoặc chuyển khoản", "8.000 đồng"),
    ("suspended", "Đang chờ văn bản trả lời của cơ quan khác", "tạm dừng"),
    ("rejected", "Không thuộc thẩm quyền của xã", "khiếu nại"),
])
def test_new_statuses_need_the_officers_words(app: Flask, status: str, note: str, expected: str) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None), status="processing")
    with pytest.raises(InvalidTransition):
        _change(app, code, status)
    _change(app, code, status, note)
    text = Reply.from_dict(_outbox(app)[-1].reply).text
    assert expected in text and note.rstrip(".") in text
    if status != "rejected":
        assert _change(app, code, "withdrawn").status == "withdrawn"


@pytest.mark.parametrize(("procedure", "expected", "not_expected"), [
    ("1.000894", "cả hai bên", "Giấy khai sinh"),                  # kết hôn: both spouses sign
    ("1.001193", "nhận Giấy khai sinh", "cả hai bên"),             # the catalogue's result document
    ("1.004222", "VNeID", "mang giấy tờ tùy thân"),               # cư trú: a database update
])
def test_result_ready_says_how_this_procedure_returns_its_result(
        app: Flask, procedure: str, expected: str, not_expected: str) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None), status="processing",
                       procedure=procedure)
    _change(app, code, "result_ready")
    text = Reply.from_dict(_outbox(app)[-1].reply).text
    assert expected in text and not_expected not in text


def test_overdue_never_counts_a_dossier_without_a_promised_date() -> None:
    today = local_today(NOW)
    assert not is_overdue(Dossier(status="waiting_acceptance", appointment_date=None), today)
    assert not is_overdue(Dossier(status="received", appointment_date=None), today)
