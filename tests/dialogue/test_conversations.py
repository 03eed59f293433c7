"""Whole conversations through the real engine and the REAL Rasa NLU server (fixture nlu_settings):
five procedures, each with invalid values, a side question, going back, resuming after a break,
correcting a field at the confirmation, cancelling, and a submitted dossier with its receipt."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

import flows.dialogue
from bot.agency import Agency
from bot.config import Settings
from bot.models import Dossier
from bot.services import Services
from flows.loader import load_flows

from .chat import Chat, active_step, answer_step, button, complete, payloads, texts

pytestmark = pytest.mark.rasa  # every conversation here runs on the real NLU server

CODE = re.compile(r"^TN-[0-9A-Z]{4}-[0-9A-Z]{4}$")  # the online reference; the official code: at acceptance
FLOWS = load_flows()

# (flow, what a citizen types to start it)
OPENERS = [
    ("khai_sinh", "em muốn làm giấy khai sinh cho con"),
    ("ket_hon", "tôi muốn nộp hồ sơ đăng ký kết hôn"),
    ("tam_tru", "em muốn đăng ký tạm trú online"),
    ("khai_tu", "cho tôi đăng ký khai tử cho bố"),
    ("xac_nhan_hon_nhan", "tôi muốn xin giấy xác nhận tình trạng hôn nhân"),
]


@pytest.fixture
def real_services(nlu_settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(nlu_settings)


@pytest.fixture
def chat(real_services: Services, file_server: str) -> Chat:
    return Chat(services=real_services, user="zalo-user-1", channel="zalo", file_base=file_server)


def open_flow(chat: Chat, opener: str, flow: str) -> list:
    """Say what the citizen wants; a procedure answer offers the submit button, which is pressed."""
    replies = chat.say(opener)
    if active_step(chat) is None:
        submit = next((p for p in payloads(replies) if p.startswith("/submit_dossier")), None)
        assert submit, f"{opener!r} neither started the flow nor offered to submit: {texts(replies)}"
        replies = chat.press(submit)
    assert chat.state()["active"]["flow"] == flow
    return replies


def dossier_of(chat: Chat) -> Dossier:
    with chat.services.sessions() as session:
        found = session.scalars(select(Dossier).where(Dossier.user_id == chat.user)).one()
        _ = found.documents
        session.expunge_all()
        return found


@pytest.mark.parametrize(("flow", "opener"), OPENERS, ids=[o[0] for o in OPENERS])
def test_a_citizen_submits_a_dossier_in_the_chat(chat: Chat, flow: str, opener: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    procedure = FLOWS[flow].procedure
    base = Agency.load()
    if not base.accepts(procedure):  # residence (tạm trú): in the chat only where a police desk is hosted
        desk = replace(base, hosted_desks=frozenset({"police"}),
                       accepted_procedures=base.accepted_procedures | {procedure})
        monkeypatch.setattr(flows.dialogue, "_agency", lambda: desk)
    first = open_flow(chat, opener, flow)
    assert "trợ lý tự động" in chat.log[0][1][0].text  # the very first message says what it is
    assert "bên kiểm soát" in texts(first) and "consent:yes" in payloads(first)
    offer = chat.say("đồng ý")  # typed, not pressed
    assert active_step(chat).type == "id_card" and "thẻ căn cước" in texts(offer)  # photo, or type
    asked = chat.say("tự nhập")
    assert active_step(chat).id == "applicant_name" and "họ và tên" in texts(asked).lower()

    # invalid values get the validator's hint, then the question again
    bad = chat.say("123")
    assert active_step(chat).id == "applicant_name" and "số" in bad[0].text.lower()
    chat.say("Nguyễn Thị Lan")
    bad = chat.say("12345")
    assert active_step(chat).id == "applicant_id_number" and "12" in bad[0].text

    # a side question in the middle is answered for this procedure, then the flow goes on
    side = chat.say("phí bao nhiêu vậy?")
    assert "Lệ phí" in texts(side) and active_step(chat).id == "applicant_id_number"
    assert "số định danh" in side[-1].text.lower()
    chat.say("001090001234")
    chat.say("0912345678")

    # going back one step
    step_after_phone = active_step(chat).id
    back = chat.say("quay lại")
    assert active_step(chat).id == "phone" and "điện thoại" in texts(back)
    chat.say("0912 345 678")
    assert active_step(chat).id == step_after_phone

    # the citizen leaves and comes back hours later
    offer = chat.say("chào em", after=timedelta(hours=3))
    assert {"/resume", "/restart", "/cancel"} <= set(payloads(offer))
    resumed = chat.press("/resume", "Tiếp tục")
    assert active_step(chat).id == step_after_phone and resumed

    # the rest of the checklist, then correct one field at the confirmation
    summary = complete(chat, until="confirm")
    assert "Số điện thoại liên hệ: 0912 345 678" in texts(summary)
    fields = chat.press(button(summary, "Sửa thông tin"))
    chat.press(button(fields, "Số điện thoại"))
    assert active_step(chat).id == "phone"
    summary = chat.say("0987654321")
    assert active_step(chat).id == "confirm" and "0987 654 321" in texts(summary)
    assert "Nguyễn Thị Lan" in texts(summary)  # nothing else was asked again

    receipt = chat.press(button(summary, "Nộp hồ sơ"))
    dossier = dossier_of(chat)
    assert CODE.match(dossier.code) and dossier.code in texts(receipt)
    assert dossier.procedure_code == procedure and dossier.status == "waiting_acceptance"
    assert dossier.phone == "+84987654321" and dossier.applicant["applicant_name"] == "Nguyễn Thị Lan"
    assert dossier.appointment_date is None and "000.00.12.H62" not in texts(receipt)
    if dossier.estimated_date is not None:
        assert dossier.estimated_date >= date(2026, 11, 24)
        assert dossier.estimated_date.strftime("%d/%m/%Y") in texts(receipt) and "dự kiến" in texts(receipt)
    expected = [s.label for s in FLOWS[flow].steps if s.type == "documents" and s.applies(dossier.applicant)]
    assert sorted(d.item for d in dossier.documents) == sorted(expected)  # one photo per checklist item
    assert all(d.file_id is not None for d in dossier.documents)
    assert chat.state().get("active") is None

    # cancelling a second dossier part-way: consent is not asked twice for the same purpose
    again = open_flow(chat, opener, flow)
    assert "consent:yes" not in payloads(again) and active_step(chat).type == "id_card"
    chat.say("Trần Văn Hùng")  # a name typed at the card offer is the answer to the first question
    assert active_step(chat).id == "applicant_id_number"
    cancelled = chat.say("thôi hủy đi")
    assert "hủy" in texts(cancelled).lower() and chat.state().get("active") is None


def test_status_help_and_transparency_with_the_real_nlu(chat: Chat, real_services: Services) -> None:
    open_flow(chat, "em muốn làm giấy khai sinh cho con", "khai_sinh")
    answer_step(chat, active_step(chat))
    complete(chat)
    code = dossier_of(chat).code
    status = chat.say(f"cho em hỏi hồ sơ {code} đến đâu rồi")
    assert code in texts(status) and "Chờ tiếp nhận" in texts(status)
    who = chat.say("bạn là người hay máy?")
    assert "không phải người thật" in texts(who)
    fee = chat.say("làm khai sinh mất bao lâu?")
    assert "ngày làm việc" in texts(fee)
    office = chat.say("mấy giờ trung tâm mở cửa?")
    agency = Agency.load()
    assert agency.address in texts(office) and "Giờ tiếp nhận hồ sơ" in texts(office)
    human = chat.say("cho tôi gặp cán bộ")
    conv = chat.conversation()
    assert conv.mode == "waiting_human" and conv.handoff_reason == "request_human" and human


def test_nonsense_twice_goes_to_an_officer(chat: Chat) -> None:
    first = chat.say("asdfgh")
    assert "chưa hiểu" in texts(first)
    chat.say("qwerty zxcv")
    conv = chat.conversation()
    assert conv.mode == "waiting_human" and conv.handoff_reason == "not_understood"


def test_the_menu_asks_which_procedure_and_the_answer_starts_it(chat: Chat) -> None:
    menu = chat.say("xin chào")
    which = chat.press(button(menu, "Nộp hồ sơ"))
    assert "thủ tục nào" in texts(which)
    consent = chat.say("đăng ký khai sinh")  # no verb, low confidence: the pending question gives it meaning
    assert chat.state()["active"]["flow"] == "khai_sinh" and "consent:yes" in payloads(consent)
    asked = chat.say(
        "phí bao nhiêu vậy?"
    )  # an unclear consent answer: the question is answered, consent asked again
    assert "Lệ phí" in texts(asked) and "consent:yes" in payloads(asked)
    refused = chat.say("không đồng ý")
    assert "trực tiếp" in texts(refused) and chat.state().get("active") is None


def test_questions_then_submit_use_the_procedure_talked_about(chat: Chat) -> None:
    docs = chat.say("cần giấy tờ gì để làm khai sinh?")
    assert "Giấy chứng sinh" in texts(docs)
    fee = chat.say("phí bao nhiêu?")  # no procedure named: the one talked about
    assert "Lệ phí Đăng ký khai sinh" in texts(fee)
    consent = chat.say("em muốn nộp hồ sơ luôn")
    assert chat.state()["active"]["flow"] == "khai_sinh" and "consent:yes" in payloads(consent)


def test_an_officer_asks_for_documents_and_the_citizen_supplements_them(chat: Chat) -> None:
    from bot.db import transaction
    from bot.dossier_workflow import change_status
    from bot.messages import Reply
    from bot.models import OutboxMessage

    open_flow(chat, "em muốn làm giấy khai sinh cho con", "khai_sinh")
    answer_step(chat, active_step(chat))
    complete(chat)
    with transaction(chat.services.sessions) as session:  # the officer's side: the console's one function
        dossier = session.scalars(select(Dossier).where(Dossier.user_id == chat.user)).one()
        change_status(
            session, dossier, "supplement_requested", None, "staff:canbo1", chat.now, items=["Ảnh rõ hơn"]
        )
    asked = chat.say("cán bộ bảo em bổ sung giấy tờ")
    assert chat.state()["active"]["flow"] == "supplement_dossier"
    assert "consent:yes" in payloads(asked)  # a new purpose: asked once
    asked = chat.say("đồng ý")
    assert "Ảnh rõ hơn" in texts(asked) and active_step(chat).id == "supplement_files"
    chat.upload("/giay.png")
    done = chat.say("xong")
    assert "chuyển lại cho cán bộ" in texts(done) and chat.state().get("active") is None
    dossier = dossier_of(chat)
    assert dossier.status == "waiting_acceptance"  # asked before acceptance: back to the officers' queue
    assert [d.supplement for d in dossier.documents].count(True) == 1
    with chat.services.sessions() as session:
        notices = session.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "notification").order_by(OutboxMessage.id)
        ).all()
        sent = [Reply.from_dict(n.reply).text for n in notices]
    assert len(sent) == 2 and "Ảnh rõ hơn" in sent[0] and "chờ cán bộ tiếp nhận" in sent[1]
