"""A typed number after a numbered list picks that item, on every channel, through one function."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.messages import Button, Reply, numbered_choice, typed_number
from bot.models import Conversation
from bot.pipeline import dispatcher, worker
from bot.services import Services
from connectors import numbered_list
from connectors.base import http_session

from .conftest import CITIZEN, ScriptedDialogue, fb_batch, fb_headers, fb_message, zalo_body, zalo_headers
from .standins import GraphStandIn, ZaloStandIn

PAYLOADS = ["/ask_fee", "/check_status", None, "/request_human"]  # the third is a link button


@pytest.mark.parametrize(("typed", "payload"), [
    ("2", "/check_status"),
    ("1", "/ask_fee"),
    (" 4 ", "/request_human"),
    ("4.", "/request_human"),
    ("4)", "/request_human"),
    ("số 2", "/check_status"),
    ("Số 2", "/check_status"),
    ("so 2", "/check_status"),
    ("phương án 1", "/ask_fee"),
    ("２", "/check_status"),  # fullwidth digit, as some phone keyboards type it
    ("02", "/check_status"),
    ("3", None),  # a link button: nothing to pick
    ("5", None),  # no fifth item
    ("0", None),
    ("12 giờ", None),
    ("2 bản", None),
    ("số 2 ạ", None),
    ("", None),
    ("hai", None),
])
def test_numbered_choice(typed: str, payload: str | None) -> None:
    assert numbered_choice(typed, PAYLOADS) == payload


def test_typed_number_needs_a_list() -> None:
    assert typed_number("3") == 3 and typed_number("mục 3") == 3 and typed_number("100") is None
    assert numbered_choice("1", []) is None


SIX = [Button(f"Đăng ký khai sinh cho trẻ em số {n}", f"/p{n}") for n in range(1, 7)]  # Zalo shows five
TWO = [Button("Tra cứu hồ sơ", "/check_status"), Button("Gặp cán bộ", "/request_human")]


def test_the_list_remembered_is_the_one_shown_numbered() -> None:
    six, two = Reply.say("Chọn:", *SIX), Reply.say("Chọn:", *TWO)
    said = Reply.say("Em nhận được.")
    assert numbered_list("zalo", [said, six]) == [b.payload for b in SIX]  # more than Zalo's five
    assert numbered_list("zalo", [said, two]) == []  # native buttons: no numbers shown
    assert numbered_list("console", [two, said]) == ["/check_status", "/request_human"]
    assert numbered_list("facebook", [six]) == [b.payload for b in SIX]  # titles too long for buttons
    assert numbered_list("web", [six]) == []  # the page shows every button
    # A long list cut into two messages is numbered from 1 in each: a number would be ambiguous.
    assert numbered_list("console", [Reply.say("Chọn:", *SIX[:5]), Reply.say("Còn nữa:", SIX[5])]) == []
    assert numbered_list("zalo", [said]) == [] and numbered_list("sms", [six]) == []


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """The dialogue these tests' apps run (each test gives it its answers with `_dialogue`)."""
    return ScriptedDialogue()


def _dialogue(dialogue: ScriptedDialogue, buttons: list[Button],
              more: list[Button] | None = None) -> list[tuple[str, str | None]]:
    """A stand-in dialogue that offers `buttons` (and `more` in a second message) and records what
    reached it: text (for the NLU) or a tap."""
    heard: list[tuple[str, str | None]] = []

    def handle_turn(turn: Any) -> list[Reply]:
        heard.append((turn.inbound.kind, turn.inbound.payload))
        said = turn.inbound.payload or turn.inbound.text
        replies = [Reply.say(f"Em nhận được: {said}"), Reply.say("Anh/Chị chọn:", *buttons)]
        return replies + ([Reply.say("Còn nữa:", *more)] if more else [])

    dialogue.answer = handle_turn
    return heard


def _pump(app: Flask) -> None:
    services: Services = app.extensions["motcua"]
    connectors = app.extensions["motcua.connectors"]
    worker.drain(services, connectors)
    dispatcher.drain(services, connectors, http_session())


def _zalo(app: Flask, text: str, msg_id: str) -> None:
    body = zalo_body(text=text, msg_id=msg_id)
    assert app.test_client().post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 200
    _pump(app)


def test_zalo_typed_number_after_a_numbered_list_picks_the_item(
        ch_app: Flask, zalo_server: ZaloStandIn, dialogue: ScriptedDialogue) -> None:
    heard = _dialogue(dialogue, SIX)
    _zalo(ch_app, "Cho em hỏi thủ tục khai sinh", "z-1")
    shown = zalo_server.sends()[-1].json["message"]
    assert "attachment" not in shown and "3. Đăng ký khai sinh cho trẻ em số 3" in shown["text"]
    _zalo(ch_app, "3", "z-2")
    assert heard == [("text", None), ("payload", "/p3")]  # the tap, not words for the NLU
    assert zalo_server.sends()[-2].json["message"]["text"] == "Em nhận được: /p3"
    _zalo(ch_app, "9", "z-3")  # no ninth item: words as usual
    assert heard[-1] == ("text", None)


def test_zalo_native_buttons_leave_a_typed_number_to_the_dialogue(
        ch_app: Flask, zalo_server: ZaloStandIn, dialogue: ScriptedDialogue) -> None:
    heard = _dialogue(dialogue, TWO)
    _zalo(ch_app, "Xin chào", "z-1")
    assert zalo_server.sends()[-1].json["message"]["attachment"]["payload"]["buttons"]  # shown as buttons
    _zalo(ch_app, "2", "z-2")  # no numbers were shown: "2" may answer a question (the dialogue decides)
    assert heard == [("text", None), ("text", None)]
    services: Services = ch_app.extensions["motcua"]
    with services.sessions() as session:
        conv = session.scalars(select(Conversation).where(Conversation.user_id == CITIZEN)).one()
        assert "numbered" not in conv.state


def test_two_numbered_lists_in_one_turn_leave_a_number_to_the_dialogue(
        ch_app: Flask, zalo_server: ZaloStandIn, dialogue: ScriptedDialogue) -> None:
    heard = _dialogue(dialogue, SIX, more=SIX)
    _zalo(ch_app, "Xin chào", "z-1")
    assert all("attachment" not in call.json["message"] for call in zalo_server.sends()[-2:])  # both numbered
    _zalo(ch_app, "3", "z-2")
    assert heard == [("text", None), ("text", None)]


def test_messenger_long_titles_are_numbered_and_picked_by_number(
        ch_app: Flask, graph_server: GraphStandIn, dialogue: ScriptedDialogue) -> None:
    heard = _dialogue(dialogue, SIX)
    client = ch_app.test_client()
    for mid, text in (("m-1", "Xin chào"), ("m-2", "số 6")):
        batch = fb_batch([fb_message("psid-1", mid, text=text)])
        assert client.post("/webhooks/facebook", data=batch, headers=fb_headers(batch)).status_code == 200
        _pump(ch_app)
    assert heard == [("text", None), ("payload", "/p6")]
    assert graph_server.sends()[-2].json["message"]["text"] == "Em nhận được: /p6"
