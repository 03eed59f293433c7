"""Escalation queue, claiming, replying (text and files), handing back, dossiers, documents, outbox, audit."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction, utcnow
from bot.dossier import applicant_fields, card_fields
from bot.messages import Reply
from bot.models import AuditLog, Conversation, Dossier, Message, OutboxMessage, StoredFile

from .conftest import Staff, add_conversation, add_document, add_dossier, db, staff_id


def png(width: int = 640, height: int = 480) -> bytes:
    """A real (tiny, compressed) PNG of the given size."""
    raw = b"".join(b"\x00" + b"\xff" * width * 3 for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _outbox(app: Flask) -> list[OutboxMessage]:
    with db(app) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _audit(app: Flask) -> list[tuple[str, str | None]]:
    with db(app) as session:
        return [(e.action, e.object_id) for e in session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_queue_shows_channel_waiting_time_and_reason(app: Flask, officer: Staff) -> None:
    add_conversation(app, reason="complaint", channel="zalo", user_id="z-1")
    add_conversation(app, mode="bot", reason=None, user_id="psid-2")
    page = officer.get("/staff/").get_data(as_text=True)
    assert "Công dân chờ cán bộ (1)" in page
    assert "Zalo" in page and "Phản ánh, khiếu nại" in page and "12 phút" in page
    assert officer.get("/staff/queue.json").get_json() == {"waiting": 1}


def test_claim_reply_and_hand_back(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    with transaction(app.extensions["motcua"].sessions) as session:
        session.add(
            Message(conversation_id=conv, direction="in", author="citizen", text="Cho tôi gặp cán bộ")
        )
    page = officer.get(f"/staff/conversations/{conv}").get_data(as_text=True)
    assert "Cho tôi gặp cán bộ" in page and "Nhận cuộc trò chuyện" in page
    # The remembered details with their labels, not the stored keys and dicts.
    assert "<dt>Họ và tên</dt><dd>Nguyễn Văn An</dd>" in page
    assert "<dt>Số điện thoại</dt><dd>0912 345 678</dd>" in page
    assert "applicant_name" not in page and "display" not in page
    # Replying before claiming is refused.
    officer.post(f"/staff/conversations/{conv}/reply", {"text": "Chào anh"})
    assert _outbox(app) == []

    assert officer.post(f"/staff/conversations/{conv}/claim").status_code == 302
    with db(app) as session:
        c = session.get(Conversation, conv)
        assert (c.mode, c.assigned_staff_id) == ("human", staff_id(app, "canbo1"))

    officer.post(f"/staff/conversations/{conv}/reply", {"text": "Chào anh, em là cán bộ Trung tâm."})
    (sent,) = _outbox(app)
    reply = Reply.from_dict(sent.reply)
    assert (sent.purpose, sent.channel, sent.user_id, sent.in_reply_to) == (
        "staff",
        "facebook",
        "psid-1",
        "mid.1",
    )
    assert (reply.kind, reply.author, reply.text) == ("text", "staff", "Chào anh, em là cán bộ Trung tâm.")

    polled = officer.get(f"/staff/conversations/{conv}/messages.json?after=0").get_json()
    assert polled["mode"] == "human"
    assert [(m["author"], m["text"]) for m in polled["messages"]][-1] == (
        "staff",
        "Chào anh, em là cán bộ Trung tâm.",
    )
    last = polled["messages"][-1]["id"]
    assert officer.get(f"/staff/conversations/{conv}/messages.json?after={last}").get_json()["messages"] == []
    assert officer.get(f"/staff/conversations/{conv}/messages.json?after=abc").status_code == 400

    officer.post(f"/staff/conversations/{conv}/release")
    with db(app) as session:
        c = session.get(Conversation, conv)
        assert (c.mode, c.assigned_staff_id, c.handoff_reason) == ("bot", None, None)
    assert "trợ lý tự động" in Reply.from_dict(_outbox(app)[-1].reply).text
    actions = [a for a, _ in _audit(app) if a.startswith("conversation.")]
    assert actions == [
        "conversation.view",
        "conversation.claim",
        "conversation.reply",
        "conversation.release",
    ]


def test_close_clears_the_flow_state(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    with transaction(app.extensions["motcua"].sessions) as session:
        session.get(Conversation, conv).state = {"flow": "khai_sinh", "step": 3}
    officer.post(f"/staff/conversations/{conv}/claim")
    officer.post(f"/staff/conversations/{conv}/close")
    with db(app) as session:
        c = session.get(Conversation, conv)
        assert (c.mode, c.state) == ("bot", {})
    closed, question = (Reply.from_dict(o.reply).text for o in _outbox(app)[-2:])
    assert "kết thúc" in closed
    assert "hài lòng" in question  # then the one satisfaction question (bot/insight/satisfaction.py)


def test_another_officer_cannot_take_or_release_a_claimed_conversation(
    app: Flask, officer: Staff, make_user
) -> None:  # type: ignore[no-untyped-def]
    from .conftest import login

    conv = add_conversation(app)
    officer.post(f"/staff/conversations/{conv}/claim")
    make_user("canbo2")
    other_client = app.test_client()
    login(other_client, "canbo2")
    other = Staff(other_client)
    page = other.post(f"/staff/conversations/{conv}/claim", follow_redirects=True).get_data(as_text=True)
    assert "cán bộ khác" in page
    other.post(f"/staff/conversations/{conv}/release")
    other.post(f"/staff/conversations/{conv}/reply", {"text": "xen ngang"})
    with db(app) as session:
        c = session.get(Conversation, conv)
        assert (c.mode, c.assigned_staff_id) == ("human", staff_id(app, "canbo1"))
    assert _outbox(app) == []


def test_reply_with_a_file_goes_out_as_a_signed_link(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    officer.post(f"/staff/conversations/{conv}/claim")
    from io import BytesIO

    resp = officer.post(
        f"/staff/conversations/{conv}/reply",
        {"text": "Mẫu tờ khai đây ạ", "files": (BytesIO(png()), "to_khai.png")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    text, image = (Reply.from_dict(o.reply) for o in _outbox(app))
    assert text.text == "Mẫu tờ khai đây ạ"
    assert (image.kind, image.name, image.author) == ("image", "to_khai.png", "staff")
    assert image.url and "/outgoing/" in image.url
    with db(app) as session:
        stored = session.scalars(select(StoredFile)).one()
        assert stored.content_type == "image/png" and stored.storage_name != "to_khai.png"
    public = app.test_client()
    path = image.url.split("localhost", 1)[1]
    fetched = public.get(path)
    assert fetched.status_code == 200 and fetched.data == png()
    assert public.get(path[:-3] + "abc").status_code == 404
    assert public.get(f"/outgoing/{stored.storage_name}/").status_code == 404


def test_reply_refuses_files_that_are_not_images_or_pdf(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    officer.post(f"/staff/conversations/{conv}/claim")
    from io import BytesIO

    page = officer.post(
        f"/staff/conversations/{conv}/reply",
        {"text": "x", "files": (BytesIO(b"MZ\x90\x00 not a document"), "virus.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Chỉ gửi được ảnh hoặc tệp dạng JPEG, PNG, PDF" in page
    assert _outbox(app) == []
    assert officer.post(f"/staff/conversations/{conv}/reply", {"text": "x" * 2000}).status_code == 302
    assert _outbox(app) == []


def test_dossier_list_filters_and_search(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    add_dossier(app, conv, code="A-261101-0001", appointment=local_today() - timedelta(days=2))
    add_dossier(
        app, conv, code="A-261101-0002", status="processing", phone="+84987654321", procedure="1.000894"
    )
    add_dossier(
        app, None, code="A-261101-0003", status="returned", appointment=local_today() - timedelta(days=9)
    )

    def codes(query: str) -> set[str]:
        page = officer.get(f"/staff/dossiers?{query}").get_data(as_text=True)
        return {c for c in ("A-261101-0001", "A-261101-0002", "A-261101-0003") if f">{c}<" in page}

    assert codes("") == {"A-261101-0001", "A-261101-0002", "A-261101-0003"}
    assert codes("status=processing") == {"A-261101-0002"}
    assert codes("procedure=1.000894") == {"A-261101-0002"}
    assert codes("overdue=1") == {"A-261101-0001"}
    assert codes("q=0003") == {"A-261101-0003"}
    assert codes("q=0987+654+321") == {"A-261101-0002"}
    assert codes("q=84987654321") == {"A-261101-0002"}
    today = local_today().isoformat()
    assert codes(f"from={today}&to={today}") == {"A-261101-0001", "A-261101-0002", "A-261101-0003"}
    tomorrow = (local_today() + timedelta(days=2)).isoformat()
    assert codes(f"from={tomorrow}") == set()
    assert officer.get("/staff/dossiers?from=not-a-date").status_code == 200  # flashed, list unfiltered
    bad_page = officer.get("/staff/dossiers?page=x")
    assert bad_page.status_code == 400 and "page must be a whole number" in bad_page.get_data(as_text=True)
    assert ("dossier.search", None) in _audit(app)


def test_dossier_page_shows_the_phone_once(app: Flask, officer: Staff) -> None:
    asked = add_dossier(app, None, code="B-261129-0001", applicant={
        "ho_ten": "Trần Thị Bình", "phone": "+84912345678",
        "_labels": {"ho_ten": "Họ và tên", "phone": "Số điện thoại"}})
    page = officer.get(f"/staff/dossiers/{asked}").get_data(as_text=True)
    assert page.count("+84912345678") == 1 and "Số điện thoại" in page
    not_asked = add_dossier(app, None, code="B-261129-0002")  # phone known from the chat only
    page = officer.get(f"/staff/dossiers/{not_asked}").get_data(as_text=True)
    assert page.count("+84912345678") == 1 and "Điện thoại" in page


def test_dossier_page_documents_and_status_change(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    code = add_dossier(app, conv)
    add_document(app, code, "Giấy chứng sinh", "abcdefgh1234.png", png(), "image/png")
    page = officer.get(f"/staff/dossiers/{code}").get_data(as_text=True)
    assert "Giấy chứng sinh" in page and "001203012345" in page and "Đã tiếp nhận" in page
    assert "/staff/files/abcdefgh1234.png" in page
    view = officer.get("/staff/files/abcdefgh1234.png")
    assert view.status_code == 200 and view.mimetype == "image/png" and view.data == png()
    assert (
        "attachment" in officer.get("/staff/files/abcdefgh1234.png?download=1").headers["Content-Disposition"]
    )
    assert officer.get("/staff/files/..%2Fetc%2Fpasswd").status_code == 404
    assert officer.get("/staff/files/unknown.png").status_code == 404
    assert officer.get("/staff/dossiers/KHONG-CO").status_code == 404

    page = officer.post(
        f"/staff/dossiers/{code}/status",
        {"status": "supplement_requested", "items": "", "note": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "ít nhất một giấy tờ" in page
    officer.post(
        f"/staff/dossiers/{code}/status",
        {"status": "supplement_requested", "items": "Bản sao CCCD\r\n\r\nGiấy đăng ký kết hôn"},
    )
    with db(app) as session:
        dossier = session.scalars(select(Dossier)).one()
        assert dossier.status == "supplement_requested"
        assert dossier.supplement_items == ["Bản sao CCCD", "Giấy đăng ký kết hôn"]
        assert dossier.history[-1].actor == "staff:canbo1"
    (note,) = _outbox(app)
    assert note.purpose == "notification" and "Giấy đăng ký kết hôn" in Reply.from_dict(note.reply).text
    actions = [a for a, _ in _audit(app)]
    for expected in ("dossier.view", "file.view", "file.download", "dossier.status"):
        assert expected in actions


def test_dossier_page_shows_applicant_labels_and_values_only(app: Flask, officer: Staff) -> None:
    code = add_dossier(app, add_conversation(app))
    page = officer.get(f"/staff/dossiers/{code}").get_data(as_text=True)
    assert "<dt>Họ và tên người yêu cầu</dt><dd>Nguyễn Văn An</dd>" in page
    assert "<dt>Số định danh cá nhân</dt><dd>001203012345</dd>" in page
    assert "_labels" not in page and "ho_ten" not in page and "{&#39;" not in page


def test_applicant_fields_fall_back_to_the_field_id_and_skip_private_keys() -> None:
    applicant = {"ho_ten": "An", "ngay_sinh": "2026-11-01", "_labels": {"ho_ten": "Họ và tên"}, "_x": 1}
    assert applicant_fields(applicant) == [("Họ và tên", "An"), ("ngay_sinh", "2026-11-01")]
    assert applicant_fields({"a": None, "_labels": "broken"}) == [("a", "")]
    assert applicant_fields(None) == []


def test_undeliverable_messages_can_be_retried_or_marked_handled(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    with transaction(app.extensions["motcua"].sessions) as session:
        for status in ("failed", "held", "sent"):
            session.add(
                OutboxMessage(
                    conversation_id=conv,
                    channel="facebook",
                    user_id="psid-1",
                    status=status,
                    reply=Reply(kind="text", text=f"tin {status}").to_dict(),
                    attempts=5,
                    error="(#10) outside the allowed window" if status == "failed" else None,
                )
            )
    page = officer.get("/staff/outbox").get_data(as_text=True)
    assert "tin failed" in page and "tin held" in page and "tin sent" not in page
    failed, held, sent = _outbox(app)
    officer.post(f"/staff/outbox/{failed.id}/retry")
    officer.post(f"/staff/outbox/{held.id}/handled")
    officer.post(f"/staff/outbox/{sent.id}/retry")
    failed, held, sent = _outbox(app)
    assert (failed.status, failed.attempts, failed.error) == ("pending", 0, None)
    assert held.status == "handled" and sent.status == "sent"
    assert officer.post("/staff/outbox/999/retry").status_code == 404


def test_admin_sees_the_audit_log_without_personal_data(app: Flask, admin: Staff, officer: Staff) -> None:
    code = add_dossier(app, add_conversation(app))
    officer.get(f"/staff/dossiers/{code}")
    page = admin.get("/staff/audit").get_data(as_text=True)
    assert "staff:canbo1" in page and "dossier.view" in page and code in page
    with db(app) as session:
        details = " ".join(e.detail or "" for e in session.scalars(select(AuditLog)))
    assert "001203012345" not in details and "Nguyễn" not in details and "912345678" not in details
    filtered = admin.get(f"/staff/audit?type=dossier&id={code}").get_data(as_text=True)
    assert "dossier.view" in filtered and "login" not in filtered.split("<tbody>")[1]


def test_paused_conversations_are_listed_and_can_be_handed_back(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app, mode="paused", reason="staff_on_platform", channel="zalo", user_id="z-9")
    page = officer.get("/staff/").get_data(as_text=True)
    assert "Đang trả lời trên Zalo/Messenger (1)" in page and "Cán bộ đang nhắn trực tiếp" in page
    officer.post(f"/staff/conversations/{conv}/release")
    with db(app) as session:
        assert session.get(Conversation, conv).mode == "bot"
    # A conversation the bot already handles cannot be "released" again (no duplicate hand-back message).
    officer.post(f"/staff/conversations/{conv}/release")
    assert len(_outbox(app)) == 1


def test_transcript_never_links_to_script_urls(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    attachment = {"kind": "file", "url": "javascript:alert(1)", "name": "bay.pdf"}
    with transaction(app.extensions["motcua"].sessions) as session:
        session.add(
            Message(
                conversation_id=conv,
                direction="in",
                author="citizen",
                text="",
                body={"attachments": [attachment]},
            )
        )
    page = officer.get(f"/staff/conversations/{conv}").get_data(as_text=True)
    assert "bay.pdf" in page and "javascript:alert" not in page


def test_the_bot_stays_silent_while_an_officer_owns_the_conversation(app: Flask, officer: Staff) -> None:
    from bot.messages import Inbound
    from bot.turn import run_turn

    conv = add_conversation(app, channel="web", user_id="web-1")
    officer.post(f"/staff/conversations/{conv}/claim")
    services = app.extensions["motcua"]
    with transaction(services.sessions) as session:
        inbound = Inbound(channel="web", user_id="web-1", kind="text", text="Em ơi cho hỏi", message_id="w-2")
        assert run_turn(session, services, inbound) == []
    assert _outbox(app) == []
    polled = officer.get(f"/staff/conversations/{conv}/messages.json").get_json()
    assert [(m["author"], m["text"]) for m in polled["messages"]] == [("citizen", "Em ơi cho hỏi")]
    with db(app) as session:
        assert session.get(Conversation, conv).last_inbound_message_id == "w-2"


def test_conversation_page_shows_how_far_the_last_message_got(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    page = officer.get(f"/staff/conversations/{conv}").get_data(as_text=True)
    assert 'id="delivery"' not in page  # nothing sent yet
    sent = utcnow() - timedelta(minutes=3)
    with transaction(app.extensions["motcua"].sessions) as session:
        item = OutboxMessage(conversation_id=conv, channel="facebook", user_id="psid-1", status="sent",
                             reply=Reply.say("Dạ em chào anh").to_dict(), sent_at=sent)
        session.add(item)
    page = officer.get(f"/staff/conversations/{conv}").get_data(as_text=True)
    assert "Tin nhắn gần nhất của Trung tâm: đã gửi lúc" in page
    with transaction(app.extensions["motcua"].sessions) as session:
        stored = session.scalars(select(OutboxMessage)).one()
        stored.delivered_at = stored.seen_at = utcnow()
    page = officer.get(f"/staff/conversations/{conv}").get_data(as_text=True)
    assert "Tin nhắn gần nhất của Trung tâm: đã xem lúc" in page


def test_officer_accepts_with_the_official_code_and_reschedules(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    ref = add_dossier(app, conv, code="TN-4F7K-2Q9V", status="waiting_acceptance")
    page = officer.get(f"/staff/dossiers/{ref}").get_data(as_text=True)
    assert "Chờ tiếp nhận" in page and 'id="accept-form"' in page and "chưa có mã hồ sơ chính thức" in page
    day = local_today() + timedelta(days=6)
    accept = {"status": "received", "official_code": "000.00.12.H62-261204-0007",
              "appointment": day.isoformat()}
    officer.post(f"/staff/dossiers/{ref}/status", accept)
    with db(app) as session:
        d = session.scalars(select(Dossier)).one()
        assert (d.status, d.official_code) == ("received", "000.00.12.H62-261204-0007")
        assert d.appointment_date == day
    # The page answers to the official code too, and no longer offers the acceptance.
    page = officer.get("/staff/dossiers/000.00.12.H62-261204-0007").get_data(as_text=True)
    assert 'id="accept-form"' not in page and ref in page and day.strftime("%d/%m/%Y") in page
    listing = officer.get("/staff/dossiers?q=261204-0007").get_data(as_text=True)
    assert "000.00.12.H62-261204-0007" in listing
    # A reschedule without a date is refused and said; with the date and reason the apology slip goes out.
    page = officer.post(f"/staff/dossiers/{ref}/status", {"status": "late", "note": "Chờ xác minh"},
                        follow_redirects=True).get_data(as_text=True)
    assert "ngày hẹn mới" in page
    page = officer.post(f"/staff/dossiers/{ref}/status", {"status": "late", "note": "Chờ xác minh",
                                                          "appointment": "2026-99-01"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Ngày không hợp lệ" in page
    later = day + timedelta(days=3)
    officer.post(f"/staff/dossiers/{ref}/status", {"status": "late", "note": "Chờ xác minh",
                                                   "appointment": later.isoformat()})
    with db(app) as session:
        d = session.scalars(select(Dossier)).one()
        assert (d.status, d.appointment_date) == ("late", later)
    accepted, slip = (Reply.from_dict(o.reply).text for o in _outbox(app))
    assert "000.00.12.H62-261204-0007" in accepted and day.strftime("%d/%m/%Y") in accepted
    assert "PHIẾU XIN LỖI" in slip and later.strftime("%d/%m/%Y") in slip


def test_holiday_list_banner_60_days_before_it_runs_out(
        app: Flask, officer: Staff, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.staff import dossier_views

    monkeypatch.setattr(dossier_views, "_warned_on", set())  # logged once a day per process: a fresh one
    monkeypatch.setattr(dossier_views, "utcnow", lambda: datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    assert 'id="holiday-warning"' not in officer.get("/staff/dossiers").get_data(as_text=True)
    # 10/01/2027: 24 days before the unconfirmed Tết 2027 break.
    monkeypatch.setattr(dossier_views, "utcnow", lambda: datetime(2027, 1, 10, 3, 0, tzinfo=UTC))
    with caplog.at_level("WARNING"):
        page = officer.get("/staff/dossiers").get_data(as_text=True)
    assert 'id="holiday-warning"' in page and "03/02/2027" in page and "confirmed: false" in page
    assert any("holiday list" in r.getMessage() for r in caplog.records)


def test_dossier_page_says_which_fields_came_from_the_id_card(app: Flask, officer: Staff) -> None:
    applicant = {"ho_ten": "Nguyễn Văn An", "cccd": "001203012345", "sdt": "0912345678",
                 "_labels": {"ho_ten": "Họ và tên", "cccd": "Số định danh", "sdt": "Điện thoại"},
                 "_sources": {"ho_ten": "card", "cccd": "card"}}
    code = add_dossier(app, add_conversation(app), applicant=applicant)
    page = officer.get(f"/staff/dossiers/{code}").get_data(as_text=True)
    name = page.split("<dt>Họ và tên</dt>", 1)[1].split("</dd>", 1)[0]
    phone = page.split("<dt>Điện thoại</dt>", 1)[1].split("</dd>", 1)[0]
    assert "Từ thẻ CCCD, đã xác nhận" in name and "tự nhập" not in name
    assert "Công dân tự nhập" in phone and "Từ thẻ" not in phone
    assert card_fields(applicant) == {"Họ và tên", "Số định danh"}
    assert card_fields({"a": "x", "_sources": {"a": "card", "gone": "card"}}) == {"a"}
    assert card_fields({"_sources": "broken"}) == set() and card_fields(None) == set()


def test_dossier_page_says_which_document_is_the_card_photo(app: Flask, officer: Staff) -> None:
    code = add_dossier(app, add_conversation(app))
    item = "Bản sao thẻ căn cước"
    add_document(app, code, item, "aaaaaaaa0001.png", png(), "image/png", from_card=True)
    add_document(app, code, item, "aaaaaaaa0002.png", png(), "image/png")
    page = officer.get(f"/staff/dossiers/{code}").get_data(as_text=True)
    front, back = page.split(f"<strong>{item}</strong>")[1:]
    assert "Từ ảnh thẻ CCCD đã đọc" in front.split("</li>")[0]
    assert "Từ ảnh thẻ" not in back.split("</li>")[0]
