"""The dialogue manager and flow engine with a scripted NLU: message by message, asserting on what the
bot sends, on the saved state and on the dossier it creates."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.agency import Agency
from bot.catalog.store import Catalog
from bot.consent import has_consent
from bot.dossier import SubmissionError, processing_time
from bot.dossier_workflow import change_status
from bot.messages import Reply
from bot.models import AuditLog, ConsentRecord, Conversation, Dossier, Message, OutboxMessage
from flows.context import parse_payload, payload
from flows.loader import load_flows

from .chat import Chat, ScriptedNLU, active_step, answer_step, button, complete, payloads, texts

KHAI_SINH = "1.001193"
CODE = re.compile(r"^TN-[0-9A-Z]{4}-[0-9A-Z]{4}$")  # the online reference; the official code comes later
FLOWS = load_flows()
DOSSIER_FLOWS = sorted(name for name, flow in FLOWS.items() if flow.procedure)


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU) -> Chat:
    nlu.add("xin chào", "greet")
    nlu.add("em muốn làm giấy khai sinh cho con", "submit_dossier", procedure=KHAI_SINH)
    nlu.add("phí bao nhiêu vậy?", "ask_fee")
    nlu.add("bạn là người hay máy?", "bot_challenge")
    nlu.add("cho tôi gặp cán bộ", "request_human")
    nlu.add("thôi hủy đi", "cancel")
    nlu.add("cảm ơn em", "thank")
    return make_chat()


def start_khai_sinh(chat: Chat) -> None:
    replies = chat.say("em muốn làm giấy khai sinh cho con")
    if active_step(chat).type == "consent":  # asked once per purpose
        assert "consent:yes" in payloads(replies)
        chat.press("consent:yes", "Đồng ý")
    if active_step(chat).type == "id_card":  # the ID card photo offer: these tests type the details
        chat.press('/card{"do":"type"}', "Tự nhập")
    assert active_step(chat).id == "applicant_name"


def dossiers(chat: Chat) -> list[Dossier]:
    with chat.services.sessions() as session:
        found = list(session.scalars(select(Dossier).order_by(Dossier.id)))
        for d in found:
            _ = d.documents, d.history
        session.expunge_all()
        return found


def test_payloads_round_trip() -> None:
    raw = payload("ask_fee", procedure=KHAI_SINH)
    assert raw == '/ask_fee{"procedure":"1.001193"}'
    assert parse_payload(raw) == ("ask_fee", {"procedure": KHAI_SINH})
    assert parse_payload('/choose{"value":"2"}') == ("choose", {"value": "2"})
    assert parse_payload("/greet") == ("greet", {})
    assert parse_payload("15/10/2026") is None
    assert parse_payload('/ask_fee{"procedure":') is None
    assert parse_payload("/ xin chào") is None


def test_first_message_says_it_is_an_automated_assistant_once(chat: Chat) -> None:
    first = chat.say("xin chào")
    assert "trợ lý tự động" in first[0].text and "Trung tâm Phục vụ hành chính công" in first[0].text
    assert payloads(first[-1:]) == ["/ask_procedure", "/submit_dossier", "/check_status", "/request_human"]
    again = chat.say("xin chào")
    assert "trợ lý tự động" not in texts(again)
    challenge = chat.say("bạn là người hay máy?")
    assert "không phải người thật" in texts(challenge)


def test_button_payloads_skip_the_nlu(chat: Chat, nlu: ScriptedNLU) -> None:
    replies = chat.press(payload("ask_fee", procedure=KHAI_SINH))
    assert nlu.calls == []
    assert "Miễn phí" in texts(replies)


def test_no_consent_no_collection(chat: Chat) -> None:
    chat.say("em muốn làm giấy khai sinh cho con")
    replies = chat.press("consent:no", "Không đồng ý")
    assert "không thu thập" in texts(replies) and "trực tiếp" in texts(replies)
    assert chat.state().get("active") is None
    with chat.services.sessions() as session:
        record = session.scalars(select(ConsentRecord)).one()
        assert record.granted is False and record.text_version.startswith("v1-")


def test_a_valid_value_is_not_sent_to_the_nlu(chat: Chat, nlu: ScriptedNLU) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")  # names are checked for a clear intent first ("tra cứu hồ sơ" is a name too)
    nlu.calls.clear()
    chat.say("001090001234")
    assert nlu.calls == []
    replies = chat.say("phí bao nhiêu vậy?")  # not a phone number: maybe a question
    assert nlu.calls == ["phí bao nhiêu vậy?"]
    assert "Lệ phí" in texts(replies)  # answered for the flow's procedure without naming it
    assert active_step(chat).id == "phone"  # and the question is asked again
    assert "số điện thoại" in replies[-1].text


def test_invalid_answers_get_the_validator_hint_and_a_human_after_three(chat: Chat) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    first = chat.say("12345")
    assert "12" in first[0].text  # the ID hint says what a valid number looks like
    chat.say("abc")
    third = chat.say("0000")
    assert "/request_human" in payloads(third)
    assert active_step(chat).id == "applicant_id_number"
    assert chat.state()["active"]["invalid"] == 3


def test_going_back_forgets_the_answer_and_asks_again(chat: Chat) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    chat.say("001090001234")
    replies = chat.say("quay lại")
    assert active_step(chat).id == "applicant_id_number"
    assert "quay lại" in replies[0].text
    assert "applicant_id_number" not in chat.state()["active"]["slots"]
    chat.press("/back")
    assert active_step(chat).id == "applicant_name"
    replies = chat.say("quay lại")
    assert "đầu tiên" in texts(replies)


def test_complete_submission_with_documents_correction_and_receipt(chat: Chat) -> None:
    start_khai_sinh(chat)
    complete(chat, until="relationship")
    chat.say("Người được ủy quyền")  # branch: the authorization letter is asked for later
    complete(chat, until="birth_proof")
    chat.say("Không có (sinh ngoài cơ sở y tế)")  # the alternative proof replaces the birth certificate ...
    assert active_step(chat).id == "van_ban_cua_nguoi"
    refused = chat.press("/none")  # ... but cannot be skipped as well
    assert active_step(chat).id == "van_ban_cua_nguoi" and "Không áp dụng" not in texts(refused)
    chat.say("quay lại")
    assert active_step(chat).id == "birth_proof"
    chat.say("Có Giấy chứng sinh")
    assert active_step(chat).id == "giay_chung_sinh"
    wrong = chat.upload("/note.txt")
    assert "JPEG" in texts(wrong) and active_step(chat).id == "giay_chung_sinh"
    small = chat.upload("/tiny.png")
    assert "nhỏ" in texts(small)
    got = chat.upload("/giay.png", "/ban-ve.pdf")
    assert "2 tệp" in texts(got) and "/done" in payloads(got)
    chat.say("xong")
    assert active_step(chat).id == "van_ban_uy_quyen"  # no abandoned-child report, no surrogacy letter
    chat.upload("/giay.png")
    chat.say("xong")
    assert active_step(chat).id == "confirm"
    summary = chat.say("ok nhưng khoan")  # not an answer: the summary comes again with the hint
    assert "Ngày sinh của bé: 15/10/2026" in texts(summary)
    # correct one field without starting over
    edit = chat.say("sửa ngày sinh của bé")
    assert "ngày sinh" in texts(edit).lower()
    summary = chat.say("16/10/2026")
    assert "Ngày sinh của bé: 16/10/2026" in texts(summary) and active_step(chat).id == "confirm"
    fields = chat.press('/choose{"value":"edit"}')
    assert "5. Quan hệ với bé" in texts(fields)  # numbered, for platforms that cut button titles
    chat.say("5")
    summary = chat.say("Mẹ")
    assert active_step(chat).id == "confirm"
    assert "Văn bản ủy quyền" not in texts(summary)  # the branch no longer applies
    receipt = chat.press(button(summary, "Nộp hồ sơ"))
    assert chat.state().get("active") is None
    [dossier] = dossiers(chat)
    assert CODE.match(dossier.code) and dossier.code in texts(receipt)
    assert dossier.status == "waiting_acceptance" and dossier.procedure_code == KHAI_SINH
    assert dossier.official_code is None and "000.00.12.H62" not in texts(receipt)
    assert dossier.applicant["child_birth_date"] == "2026-10-16"
    assert dossier.applicant["relationship"] == "Mẹ" and dossier.phone == "+84912345678"
    # No promise before acceptance; the estimate: 1 working day, received Tuesday morning before 15:00.
    assert dossier.appointment_date is None and dossier.estimated_date == date(2026, 11, 24)
    assert "dự kiến: 24/11/2026" in texts(receipt)
    items = [(d.item, d.file_id is not None, d.not_applicable) for d in dossier.documents]
    assert items.count(("Giấy chứng sinh", True, False)) == 2
    assert not any(i[0].startswith("Văn bản của người làm chứng") for i in items)  # the branch not taken
    assert not any(i[0] == "Văn bản ủy quyền" for i in items)


@pytest.mark.parametrize("name", DOSSIER_FLOWS)
def test_every_procedure_flow_can_be_completed(
    name: str, make_chat: Callable[..., Chat], nlu: ScriptedNLU
) -> None:
    chat = make_chat()
    flow = FLOWS[name]
    chat.press(payload("submit_dossier", procedure=flow.procedure))
    if not Agency.load().accepts(flow.procedure):  # the agency takes it in person only, for now
        assert active_step(chat) is None and dossiers(chat) == []
        return
    assert active_step(chat) is not None, texts(chat.log[-1][1])
    try:
        processing_time(Catalog.load().get(flow.procedure))
    except SubmissionError:  # no processing time in the catalogue: an officer completes it
        complete(chat, until="confirm")
        answer_step(chat, active_step(chat))
        assert chat.conversation().mode == "waiting_human" and dossiers(chat) == []
        assert chat.state()["active"]["flow"] == name  # the draft is kept for the officer
        return
    receipt = complete(chat)
    [dossier] = dossiers(chat)
    assert dossier.procedure_code == flow.procedure and dossier.code in texts(receipt)
    assert dossier.appointment_date is None and dossier.status == "waiting_acceptance"
    assert dossier.estimated_date is None or dossier.estimated_date >= date(2026, 11, 24)


def test_side_questions_cancel_and_handoff_inside_a_flow(chat: Chat, nlu: ScriptedNLU) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    replies = chat.say("bạn là người hay máy?")
    assert "không phải người thật" in replies[0].text and active_step(chat).id == "applicant_id_number"
    replies = chat.say("thôi hủy đi")
    assert "hủy" in texts(replies) and chat.state().get("active") is None
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    replies = chat.say("cho tôi gặp cán bộ")
    conv = chat.conversation()
    assert conv.mode == "waiting_human" and conv.handoff_reason == "request_human"
    assert chat.state()["active"]["flow"] == "khai_sinh"  # the draft is kept for later
    assert chat.say("alo") == []  # staff own the chat now: the bot is silent


def test_a_wrong_answer_that_reads_as_a_question_to_the_nlu_is_not_answered_as_one(
        chat: Chat, nlu: ScriptedNLU) -> None:
    """The classifier reads a birth place typed at a choice as a fee question (seen with the real model);
    with no question or request words it is a wrong answer, and the question is asked again."""
    start_khai_sinh(chat)
    for _ in range(40):
        if active_step(chat).type == "collect" and active_step(chat).kind == "choice":
            break
        answer_step(chat, active_step(chat))
    step = active_step(chat).id
    nlu.add("Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng", "ask_fee", 0.95)
    replies = chat.say("Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng")
    assert "Lệ phí" not in texts(replies) and active_step(chat).id == step
    nlu.add("le phi het bao nhieu", "ask_fee", 0.95)
    replies = chat.say("le phi het bao nhieu")  # a real question still gets its answer, then the step
    assert "Lệ phí" in texts(replies) and active_step(chat).id == step


def test_resume_after_a_break_continue_restart_or_cancel(chat: Chat) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    offer = chat.say("xin chào", after=timedelta(hours=3))
    assert payloads(offer[-1:]) == ["/resume", "/restart", "/cancel"]
    resumed = chat.press("/resume")
    assert active_step(chat).id == "applicant_id_number" and "số định danh" in texts(resumed)
    # a valid answer after a break is simply taken
    chat.say("001090001234", after=timedelta(hours=2))
    assert active_step(chat).id == "phone"
    offer = chat.say("chào em ơi", after=timedelta(minutes=45))
    assert "/resume" in payloads(offer)
    chat.press("/restart")
    assert active_step(chat).id == "id_card"  # from the start: the ID card offer again
    chat.say("xin chào")
    chat.press("/cancel")
    assert chat.state().get("active") is None


def test_drafts_expire(chat: Chat) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    days = chat.services.settings.draft_ttl_days
    chat.say("xin chào", after=timedelta(days=days, hours=1))
    with chat.services.sessions() as s:  # the notice goes straight to the outbox (bot/lifecycle.py)
        mine = select(OutboxMessage.reply).where(OutboxMessage.user_id == chat.user)
        told = [r["text"] for r in s.scalars(mine.order_by(OutboxMessage.id))]
    assert any("xóa bản nháp" in t for t in told[-3:])
    assert chat.state().get("active") is None


def test_two_misunderstandings_in_a_row_hand_over(chat: Chat) -> None:
    first = chat.say("asdfgh")
    assert "chưa hiểu" in texts(first) and "/request_human" in payloads(first)
    chat.say("cảm ơn em")  # understood: the count starts again
    chat.say("qwerty")
    chat.say("zxcvb")
    conv = chat.conversation()
    assert conv.mode == "waiting_human" and conv.handoff_reason == "not_understood"


def test_status_lookup_by_code_by_list_and_for_strangers(
    make_chat: Callable[..., Chat], nlu: ScriptedNLU
) -> None:
    owner = make_chat("owner")
    owner.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(owner)
    [dossier] = dossiers(owner)
    nlu.add(f"hồ sơ {dossier.code} xong chưa", "check_status", dossier_code=dossier.code)
    nlu.add("tra cứu hồ sơ", "check_status")
    mine = owner.say(f"hồ sơ {dossier.code} xong chưa")
    assert "Đăng ký khai sinh" in texts(mine) and "Chờ tiếp nhận" in texts(mine)
    listed = owner.say("tra cứu hồ sơ")
    assert dossier.code in texts(listed)
    chosen = owner.press(button(listed, dossier.code))
    assert "dự kiến: 24/11/2026" in texts(chosen) and owner.state().get("active") is None
    stranger = make_chat("stranger")
    theirs = stranger.say(f"hồ sơ {dossier.code} xong chưa")
    assert "Chờ tiếp nhận" in texts(theirs) and "Đăng ký khai sinh" not in texts(theirs)
    stranger.say("tra cứu hồ sơ")
    unknown = stranger.say("000.00.12.H62-261124-0999")
    assert "không tìm thấy" in texts(unknown)
    # The officer accepts: the official code and the date; the chat finds the dossier by either code.
    with owner.services.sessions() as session, session.begin():
        row = session.get(Dossier, dossier.id)
        change_status(session, row, "received", None, "staff:can_bo", owner.now,
                      appointment=date(2026, 11, 26))
        official = row.official_code
    assert official.startswith("000.00.12.H62-261124-")
    nlu.add(f"tra cứu hồ sơ {official}", "check_status", dossier_code=official)
    nlu.add(f"tra cứu hồ sơ {dossier.code}", "check_status")  # the NLU does not know the reference
    for asked in (official, dossier.code):
        found = owner.say(f"tra cứu hồ sơ {asked}")
        assert official in texts(found) and "Đã tiếp nhận" in texts(found), asked
        assert "Ngày hẹn trả kết quả: 26/11/2026" in texts(found) and dossier.code in texts(found)


def test_supplement_puts_the_dossier_back_to_the_officer(
    make_chat: Callable[..., Chat], nlu: ScriptedNLU
) -> None:
    chat = make_chat()
    nlu.add("em gửi bổ sung giấy tờ", "supplement_dossier")
    nothing = chat.say("em gửi bổ sung giấy tờ")
    assert "không có hồ sơ" in texts(nothing)
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat)
    [dossier] = dossiers(chat)
    with chat.services.sessions() as session, session.begin():
        row = session.get(Dossier, dossier.id)
        assert row is not None
        change_status(session, row, "received", None, "api", chat.now, appointment=date(2026, 12, 1))
        row.status, row.supplement_items = "supplement_requested", ["Giấy chứng sinh bản rõ hơn"]
    consent = chat.say("em gửi bổ sung giấy tờ")
    assert "consent:yes" in payloads(consent)  # a new purpose: asked once
    asked = chat.press("consent:yes")
    assert "Giấy chứng sinh bản rõ hơn" in texts(asked)
    assert active_step(chat).id == "supplement_files"
    chat.upload("/giay.png")
    done = chat.say("xong")
    assert "chuyển lại cho cán bộ" in texts(done)
    [dossier] = dossiers(chat)
    # Back to "received" through bot.dossier_workflow.change_status: the top of the officers' queue,
    # the date counted again from the supplement (1 working day, Tuesday morning: the same day).
    assert dossier.status == "received" and dossier.updated_at == chat.now
    assert dossier.appointment_date == date(2026, 11, 24)
    assert [d.supplement for d in dossier.documents].count(True) == 1
    assert dossier.status_note is None  # the citizen's own note is history, not an officer's note
    change = dossier.history[-1]
    assert (change.status, change.actor, change.note) == (
        "received",
        "citizen",
        "Công dân đã bổ sung 1 giấy tờ qua trò chuyện. · Ngày hẹn: 24/11/2026",
    )
    with chat.services.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "dossier.status")
                                .order_by(AuditLog.id.desc())).first()
        notices = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "notification")).all()
    assert (audit.actor, audit.object_id, audit.detail) == (
        "citizen",
        dossier.code,
        "supplement_requested -> received",
    )
    notice = [Reply.from_dict(n.reply).text for n in notices][-1]
    assert dossier.official_code in notice and "tiếp nhận lại" in notice and "Ghi chú" not in notice
    assert "24/11/2026" in notice
    again = chat.say("em gửi bổ sung giấy tờ")  # nothing is waiting any more
    assert "không có hồ sơ" in texts(again)


def test_delete_my_data_erases_and_says_what_is_kept(
    make_chat: Callable[..., Chat], nlu: ScriptedNLU
) -> None:
    chat = make_chat()
    nlu.add("xóa dữ liệu của tôi", "delete_data")
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat)
    [dossier] = dossiers(chat)
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat, until="applicant_id_number")  # a draft in progress
    asked = chat.say("xóa dữ liệu của tôi")
    assert "/choose" in payloads(asked)[0]
    done = chat.press(button(asked, "Xóa dữ liệu"))
    assert dossier.code in texts(done)
    state = chat.state()
    assert state.get("active") is None and "suspended" not in state
    with chat.services.sessions() as session:
        conv = session.scalars(select(Conversation)).one()
        assert not has_consent(session, conv, "flow:khai_sinh")
        said = select(Message.text).where(Message.conversation_id == conv.id, Message.direction == "in")
        assert session.scalars(said).all() == []  # the request to erase went with the rest


def test_complaint_hands_over_with_its_reason(make_chat: Callable[..., Chat], nlu: ScriptedNLU) -> None:
    chat = make_chat()
    text = "tôi muốn phản ánh cán bộ tiếp nhận hồ sơ hôm qua thái độ không tốt"
    nlu.add(text, "complaint")
    replies = chat.say(text)
    conv = chat.conversation()
    assert conv.mode == "waiting_human" and conv.handoff_reason == "complaint"
    assert "ghi nhận" in texts(replies)


def test_questions_use_the_context_or_ask_which_procedure(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("khai sinh", "ask_procedure", procedure=KHAI_SINH)
    nlu.add(
        "làm hộ tịch thì sao",
        "ask_fee",
        candidates=(("1.001193", "Đăng ký khai sinh"), ("1.000894", "Đăng ký kết hôn")),
    )
    asked = chat.say("phí bao nhiêu vậy?")
    assert chat.state()["expect"] == {"intent": "ask_fee"} and asked[-1].buttons
    fee = chat.say("khai sinh")  # the pending question is answered for the procedure now named
    assert "Lệ phí" in texts(fee)
    again = chat.say("phí bao nhiêu vậy?")  # context: the last procedure talked about
    assert "Lệ phí" in texts(again)
    pick = chat.say("làm hộ tịch thì sao")
    assert "Lệ phí" in texts(pick)  # the context is among the candidates: no need to ask


def test_a_procedure_not_taken_in_the_chat_is_explained(chat: Chat) -> None:
    replies = chat.press(payload("submit_dossier", procedure="1.000005"))
    assert chat.state().get("active") is None
    said = texts(replies)  # another agency's procedure (customs): named, never the centre as the place
    assert "Chi cục Hải quan khu vực" in said and "không tiếp nhận hồ sơ này" in said
    assert "nộp tại Trung tâm" not in said and "nộp trực tiếp tại Trung tâm" not in said


def test_a_valid_answer_resumes_after_a_status_question(
    make_chat: Callable[..., Chat], nlu: ScriptedNLU
) -> None:
    chat = make_chat()
    nlu.add("tra cứu hồ sơ", "check_status")
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    answer_step(chat, active_step(chat))
    chat.say("tra cứu hồ sơ")
    assert chat.state()["active"]["flow"] == "check_status"
    back = chat.say("000.00.12.H62-261124-0999")
    assert "không tìm thấy" in texts(back)
    assert chat.state()["active"]["flow"] == "khai_sinh" and "quay lại" in texts(back)


def test_declining_erasure_keeps_the_draft(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("xóa dữ liệu của tôi", "delete_data")
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    asked = chat.say("xóa dữ liệu của tôi")
    back = chat.press(button(asked, "Không xóa"))
    assert "giữ nguyên" in texts(back) and active_step(chat).id == "applicant_id_number"
    assert chat.state()["active"]["slots"]["applicant_name"] == "Nguyễn Văn An"


def test_without_the_nlu_server_buttons_and_answers_still_work(chat: Chat, nlu: ScriptedNLU) -> None:
    from nlu.client import NLUUnavailable

    def down(message: str) -> None:
        raise NLUUnavailable("test: server stopped")

    start_khai_sinh(chat)
    nlu.parse = down  # type: ignore[method-assign]
    chat.say("Nguyễn Văn An")  # valid answers need no NLU
    assert active_step(chat).id == "applicant_id_number"
    replies = chat.say("001090001234x")  # is it a question? the NLU cannot tell: asked again
    assert active_step(chat).id == "applicant_id_number" and "bận" in texts(replies)
    menu = chat.press("/cancel")
    assert "/submit_dossier" in payloads(menu)
    down_menu = chat.say("alo alo")
    assert "bận" in texts(down_menu) and "/check_status" in payloads(down_menu)


def test_buttons_of_an_answer_inside_a_flow(chat: Chat) -> None:
    start_khai_sinh(chat)
    side = chat.press(payload("ask_documents", procedure=KHAI_SINH))
    assert "Giấy chứng sinh" in texts(side) and active_step(chat).id == "applicant_name"
    same = chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    assert active_step(chat).id == "applicant_name" and "họ và tên" in texts(same).lower()
    other = chat.press(payload("submit_dossier", procedure="1.000894"))
    assert "đang làm dở" in texts(other) and chat.state()["active"]["flow"] == "khai_sinh"


def test_the_applicant_is_offered_again_and_intents_are_noted(chat: Chat) -> None:
    start_khai_sinh(chat)
    complete(chat)
    chat.say("em muốn làm giấy khai sinh cho con")
    again = chat.press('/card{"do":"type"}', "Tự nhập")  # no card photo this time
    assert payload("choose", value="Nguyễn Thị Lan") in payloads(again)  # one tap to reuse
    chat.press(payload("choose", value="Nguyễn Thị Lan"))
    assert chat.state()["active"]["slots"]["applicant_name"] == "Nguyễn Thị Lan"
    with chat.services.sessions() as session:
        noted = list(session.scalars(select(Message.intent).where(Message.direction == "in")))
    assert noted[0] == "submit_dossier" and "consent" in noted and "choose" in noted


def test_outside_opening_hours_the_handoff_says_when_staff_answer(chat: Chat) -> None:
    chat.now = chat.now.replace(hour=14)  # 21:00 in Hanoi
    replies = chat.say("cho tôi gặp cán bộ")
    assert "ngoài giờ" in texts(replies) and "25/11/2026" in texts(replies)


@pytest.mark.parametrize("in_flow", [False, True])
def test_odd_messages_get_an_answer_never_a_crash(chat: Chat, in_flow: bool) -> None:
    from bot.messages import Attachment, Inbound

    if in_flow:
        start_khai_sinh(chat)
    odd = [
        Inbound("web", chat.user, "sticker"),
        Inbound("web", chat.user, "location", text=""),
        Inbound("web", chat.user, "payload", payload='/edit{"field":5}'),
        Inbound("web", chat.user, "payload", payload="/choose"),
        Inbound("web", chat.user, "payload", payload='/ask_fee{"procedure":"9.999999"}'),
        Inbound("web", chat.user, "payload", payload="/none"),
        Inbound("web", chat.user, "payload", payload="/unknown_intent"),
        Inbound("web", chat.user, "text", text="/choose{not json"),
        Inbound("web", chat.user, "text", text="x" * 5000),
        Inbound(
            "web", chat.user, "attachment", attachments=(Attachment("image", "https://evil.example/a.png"),)
        ),
        Inbound("web", chat.user, "follow"),
    ]
    for inbound in odd:
        replies = chat.send(inbound)
        assert replies and all(r.text for r in replies), inbound
        assert all(len(r.text) < 2000 for r in replies)
        with chat.services.sessions() as session, session.begin():  # an officer hands back after a handoff
            session.scalars(select(Conversation)).one().mode = "bot"
    assert chat.send(Inbound("web", chat.user, "unfollow")) == []


def test_an_earlier_answer_can_be_fixed_before_the_summary(chat: Chat) -> None:
    start_khai_sinh(chat)
    chat.say("Nguyễn Văn An")
    chat.say("001090001234")
    again = chat.say("sửa họ và tên người đi đăng ký")
    assert active_step(chat).id == "applicant_name" and "họ và tên" in texts(again).lower()
    nxt = chat.say("Nguyễn Văn Bình")
    assert active_step(chat).id == "phone" and "điện thoại" in texts(nxt)  # straight back to where it was
    assert chat.state()["active"]["slots"]["applicant_name"] == "Nguyễn Văn Bình"


def test_submit_words_at_the_summary_submit_this_dossier_but_never_give_consent(chat: Chat,
                                                                               nlu: ScriptedNLU) -> None:
    nlu.add("đồng ý, nộp luôn", "submit_dossier")
    nlu.add("nộp hồ sơ kết hôn", "submit_dossier", procedure="1.000894")
    chat.say("em muốn làm giấy khai sinh cho con")
    assert active_step(chat).type == "consent"
    chat.say("đồng ý, nộp luôn")  # not a consent: the citizen must say yes to the data notice itself
    assert active_step(chat).type == "consent" and dossiers(chat) == []
    chat.press("consent:yes", "Đồng ý")
    complete(chat, until="confirm")
    chat.say("nộp hồ sơ kết hôn")  # another procedure named: this summary is not submitted
    assert active_step(chat).id == "confirm" and dossiers(chat) == []
    chat.say("đồng ý, nộp luôn")
    [dossier] = dossiers(chat)
    assert dossier.procedure_code == KHAI_SINH


def test_the_full_consent_text_is_one_tap_away_and_the_question_stays(chat: Chat) -> None:
    asked = chat.say("em muốn làm giấy khai sinh cho con")
    assert "consent:details" in payloads(asked)
    details = chat.press("consent:details", "Xem chi tiết")
    assert "mã QR" in texts(details) and "Bộ Công an" in texts(details)
    assert active_step(chat).type == "consent" and payloads(details) == ["consent:yes", "consent:no"]
    typed = chat.say("xem chi tiết")  # typed words work too, without the NLU
    assert "mã QR" in texts(typed) and active_step(chat).type == "consent"
    chat.press("consent:yes", "Đồng ý")
    assert active_step(chat).type == "id_card"  # then the ID-card photo offer the details spoke of
