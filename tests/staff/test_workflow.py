"""Dossier status transitions: what is allowed, what each needs, and the history, audit and notification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction
from bot.dossier import is_overdue, status_label
from bot.dossier_workflow import CITIZEN, TRANSITIONS, InvalidTransition, allowed_next, change_status
from bot.messages import Reply
from bot.models import AuditLog, Dossier, DossierStatusChange, Message, OutboxMessage
from bot.models.dossier import STATUSES
from bot.templates import has

from .conftest import add_conversation, add_dossier

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def _change(
    app: Flask, code: str, status: str, note: str | None = None, items: list[str] | None = None
) -> None:
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier).where(Dossier.code == code)).one()
        change_status(session, dossier, status, note, "staff:canbo1", NOW, items=items)


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
    assert allowed_next("supplement_requested", CITIZEN) == ("received",)
    _change(app, code, "supplement_requested", None, ["Bản sao CCCD"])
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier)).one()
        change_status(session, dossier, "received", "Công dân đã bổ sung 2 giấy tờ", CITIZEN, NOW)
    with app.extensions["motcua"].sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert (dossier.status, dossier.status_note) == ("received", None)
        last = dossier.history[-1]
        assert (last.status, last.actor, last.note) == ("received", CITIZEN, "Công dân đã bổ sung 2 giấy tờ")
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
