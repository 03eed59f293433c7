"""A greeting, thanks or apology in front of a request never hides it; a procedure named with the wish to
submit starts its flow; and both hold in the degraded mode, when the NLU server is down."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.services import Services
from bot.templates import text
from flows.courtesy import opening, request_text
from flows.wishes import asks, wants_to_submit

from .chat import Chat, ScriptedNLU, active_step, payloads, texts

KHAI_SINH, KHAI_TU, KET_HON = "1.001193", "1.000656", "1.000894"


@pytest.mark.parametrize(("message", "courtesy", "rest"), [
    ("Chào ad, e muốn đăng ký khai sinh cho con", ("greet",), "e muốn đăng ký khai sinh cho con"),
    ("chao ad, e muon dang ky khai sinh cho con", ("greet",), "e muon dang ky khai sinh cho con"),
    ("cam on, cho hoi lam giay khai tu can gi", ("thank",), "cho hoi lam giay khai tu can gi"),
    ("Cảm ơn, cho hỏi làm giấy khai tử cần gì", ("thank",), "cho hỏi làm giấy khai tử cần gì"),
    ("xin loi cho em hoi dang ky ket hon o dau", ("apology",), "cho em hoi dang ky ket hon o dau"),
    ("Xin lỗi cho em hỏi đăng ký kết hôn ở đâu", ("apology",), "cho em hỏi đăng ký kết hôn ở đâu"),
    ("alo ad oi e muon nop ho so khai sinh", ("greet",), "muon nop ho so khai sinh"),
    ("A lô ad ơi, e muốn nộp hồ sơ khai sinh", ("greet",), "e muốn nộp hồ sơ khai sinh"),
    ("dạ em chào anh chị ạ! Tôi muốn đăng ký kết hôn", ("greet",), "Tôi muốn đăng ký kết hôn"),
    ("tks ad, xin lỗi làm phiền, phí khai sinh bao nhiêu", ("thank", "apology", "apology"),
     "phí khai sinh bao nhiêu"),
    ("cam on ad tam tru can gi", ("thank",), "tam tru can gi"),  # "tạm" is not "trung tâm"
    ("Em chào Trung tâm, e muốn làm tạm trú", ("greet",), "e muốn làm tạm trú"),
    ("chào em ạ", ("greet",), ""),
    ("em cảm ơn ad nhiều nhé 😊", ("thank",), ""),
    ("đăng ký khai sinh", (), "đăng ký khai sinh"),
    ("Nguyễn Văn An", (), "Nguyễn Văn An"),
    ("dạ", (), "dạ"),
])
def test_the_courtesy_in_front_is_set_aside(message: str, courtesy: tuple[str, ...], rest: str) -> None:
    split = opening(message)
    assert split.courtesy == courtesy and split.request == rest
    # the NLU reads the request; a message that is only courtesy is read whole (it is a greeting or thanks)
    assert request_text(message) == (rest or message)


@pytest.mark.parametrize(("message", "submits", "question"), [
    ("e muốn đăng ký khai sinh cho con", True, None),
    ("muon nop ho so khai sinh", True, None),
    ("em muon lam giay khai tu cho bo", True, None),
    ("cho tôi đăng ký khai tử cho bố", True, None),
    ("cho hoi lam giay khai tu can gi", False, "ask_documents"),
    ("lệ phí đăng ký khai sinh bao nhiêu", False, "ask_fee"),
    ("làm giấy khai sinh mất bao lâu", False, "ask_duration"),
    ("cho em hoi dang ky ket hon o dau", False, "ask_office"),
    ("làm khai sinh online được không", False, "ask_procedure"),
    ("đăng ký kết hôn", False, None),
    ("gia hạn tạm trú", False, None),  # "gia" is not "giá"
    ("bản sao giấy khai sinh", False, None),  # "sao" is not "sao?"
])
def test_a_wish_to_submit_is_not_a_question(message: str, submits: bool, question: str | None) -> None:
    assert wants_to_submit(message) is submits
    assert asks(message) == question


# ---------------------------------------------------------------- with a scripted NLU


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU) -> Chat:
    return make_chat()


def test_the_nlu_reads_the_request_after_the_greeting(chat: Chat, nlu: ScriptedNLU) -> None:
    # the classifier is unsure of "muốn đăng ký X" (the real model gives ~0.2): the named procedure and the
    # wish to submit start the flow anyway
    nlu.add("e muốn đăng ký khai sinh cho con", "submit_dossier", 0.22, procedure=KHAI_SINH)
    replies = chat.say("Chào ad, e muốn đăng ký khai sinh cho con")
    assert nlu.calls == ["e muốn đăng ký khai sinh cho con"]
    assert chat.state()["active"]["flow"] == "khai_sinh" and "consent:yes" in payloads(replies)


def test_a_question_about_a_procedure_is_answered_not_started(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("cho hoi lam giay khai tu can gi", "ask_documents", 0.87, procedure=KHAI_TU)
    replies = chat.say("cam on, cho hoi lam giay khai tu can gi")
    assert chat.state().get("active") is None and "Giấy báo tử" in texts(replies)


def test_a_greeting_alone_is_still_a_greeting(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("chào ad ạ", "greet")
    replies = chat.say("chào ad ạ")
    assert nlu.calls == ["chào ad ạ"]
    assert text("dialogue.menu_submit") in [b.title for b in replies[-1].buttons]


def test_a_wish_never_overrides_a_supplement(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("tôi muốn nộp bổ sung hồ sơ khai sinh", "supplement_dossier", procedure=KHAI_SINH)
    replies = chat.say("tôi muốn nộp bổ sung hồ sơ khai sinh")
    assert chat.state().get("active") is None and texts(replies).endswith(text("dialogue.supplement_none"))


# ---------------------------------------------------------------- the degraded mode (NLU down)


@pytest.fixture
def down(chat: Chat, nlu: ScriptedNLU) -> Chat:
    from nlu.client import NLUUnavailable

    def unavailable(message: str) -> None:
        raise NLUUnavailable("test: server stopped")

    nlu.parse = unavailable  # type: ignore[method-assign]
    return chat


@pytest.mark.parametrize("message", [
    "Chào ad, e muốn đăng ký khai sinh cho con", "chao ad, e muon dang ky khai sinh cho con",
    "alo ad oi e muon nop ho so khai sinh", "A lô ad ơi, em muốn nộp hồ sơ khai sinh",
])
def test_without_the_nlu_a_greeting_and_a_wish_still_start_the_flow(down: Chat, message: str) -> None:
    replies = down.say(message)
    assert down.state()["active"]["flow"] == "khai_sinh" and "consent:yes" in payloads(replies)
    assert "bận" not in texts(replies)


@pytest.mark.parametrize(("message", "expected"), [
    ("cam on, cho hoi lam giay khai tu can gi", "Giấy báo tử"),
    ("Cảm ơn, cho hỏi làm giấy khai tử cần gì", "Giấy báo tử"),
    ("xin loi cho em hoi le phi dang ky ket hon bao nhieu", "Lệ phí"),
    ("Xin lỗi, cho em hỏi đăng ký kết hôn", "Đăng ký kết hôn"),
    # where a named procedure is done is in its own answer, not the centre's address
    ("xin loi cho em hoi dang ky ket hon o dau", "Đăng ký kết hôn"),
])
def test_without_the_nlu_a_question_after_courtesy_is_answered(down: Chat, message: str,
                                                               expected: str) -> None:
    replies = down.say(message)
    assert down.state().get("active") is None
    assert expected in texts(replies) and "bận" not in texts(replies)


def test_without_the_nlu_thanks_are_answered_and_the_rest_gets_the_busy_menu(down: Chat) -> None:
    assert down.say("cảm ơn ad nhiều ạ")[-1].text == text("dialogue.thank")
    busy = down.say("chào em, hôm nay trời đẹp quá")
    assert "bận" in texts(busy) and "/check_status" in payloads(busy)


def test_without_the_nlu_a_dossier_code_is_looked_up(down: Chat) -> None:
    down.say("chào em, tra cứu hồ sơ 000.00.12.H62-261124-0999")
    assert active_step(down) is None or down.state()["active"]["flow"] == "check_status"
    assert "không tìm thấy" in texts(down.log[-1][1])


# ---------------------------------------------------------------- with the real NLU server


@pytest.fixture
def real_chat(nlu_settings: Settings, make_services: Callable[[Settings], Services],
              file_server: str) -> Chat:
    return Chat(services=make_services(nlu_settings), user="zalo-courtesy", channel="zalo",
                file_base=file_server)


@pytest.mark.rasa
@pytest.mark.parametrize(("message", "flow"), [
    ("Chào ad, e muốn đăng ký khai sinh cho con", "khai_sinh"),
    ("chao ad, e muon dang ky khai sinh cho con", "khai_sinh"),
    ("alo ad oi e muon nop ho so khai sinh", "khai_sinh"),
    ("A lô ad ơi, e muốn nộp hồ sơ khai sinh", "khai_sinh"),
    ("Xin chào, tôi muốn đăng ký kết hôn", "ket_hon"),
    ("xin chao, toi muon dang ky ket hon", "ket_hon"),
    ("dạ em cảm ơn, em muốn làm giấy khai tử cho bố", "khai_tu"),
    ("da em cam on, em muon lam giay khai tu cho bo", "khai_tu"),
])
def test_real_nlu_a_greeting_then_a_wish_starts_the_flow(real_chat: Chat, message: str, flow: str) -> None:
    replies = real_chat.say(message)
    assert real_chat.state()["active"]["flow"] == flow, texts(replies)
    assert "consent:yes" in payloads(replies)


@pytest.mark.rasa
@pytest.mark.parametrize(("message", "expected"), [
    ("cam on, cho hoi lam giay khai tu can gi", "Giấy báo tử"),
    ("Cám ơn, cho hỏi làm giấy khai tử cần gì", "Giấy báo tử"),
    ("xin loi cho em hoi dang ky ket hon o dau", "Đăng ký kết hôn"),
    ("Xin lỗi cho em hỏi đăng ký kết hôn ở đâu", "Đăng ký kết hôn"),
])
def test_real_nlu_a_question_after_courtesy_is_answered(real_chat: Chat, message: str, expected: str) -> None:
    replies = real_chat.say(message)
    assert real_chat.state().get("active") is None
    assert expected in texts(replies) and text("dialogue.welcome") not in texts(replies)


def test_naming_the_procedure_the_bot_asked_about_is_no_wish_to_submit(chat: Chat, nlu: ScriptedNLU) -> None:
    nlu.add("phí bao nhiêu vậy?", "ask_fee")
    nlu.add("làm giấy khai sinh", "submit_dossier", 0.4, procedure=KHAI_SINH)
    chat.say("phí bao nhiêu vậy?")  # which procedure? is asked
    replies = chat.say("làm giấy khai sinh")
    assert chat.state().get("active") is None and "phí" in texts(replies).lower()


@pytest.mark.rasa
@pytest.mark.parametrize("message", ["Cảm ơn em, cho hỏi lệ phí bao nhiêu?",
                                     "cam on em, cho hoi le phi bao nhieu?"])
def test_real_nlu_inside_a_flow_thanks_then_a_question_is_answered(real_chat: Chat, message: str) -> None:
    real_chat.say("em muốn đăng ký khai sinh cho con")
    real_chat.press("consent:yes", "Đồng ý")
    real_chat.press('/card{"do":"type"}', "Tự nhập")  # the ID-card photo offer: typed details here
    assert active_step(real_chat).id == "applicant_name"
    replies = real_chat.say(message)
    assert "phí" in texts(replies).lower() and active_step(real_chat).id == "applicant_name"
