"""The hostile inputs reported in issue 13, exactly as reported, and the one way numbers are read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.config import Settings
from bot.messages import numbered_choice
from bot.models import Conversation, InboundEvent
from bot.numbers import digits, narrow, to_int
from bot.pipeline import dispatcher, worker
from bot.templates import text
from connectors.base import http_session
from flows.validators import VALIDATORS, validate

from .harness import ANY_TEXT, BEARER, Hostile, _fb_headers, _zalo_headers, fuzz_settings

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SUPERSCRIPT_ID = "001²85012345"


@pytest.fixture
def hostile(settings: Settings, make_app: Callable[[Settings], Flask]) -> Hostile:
    return Hostile(make_app(fuzz_settings(settings)))


# ---------------------------------------------------------------- one way to read a number


@pytest.mark.parametrize(("raw", "expected"), [
    ("42", 42), (" 42 ", 42), ("０１２", 12), ("007", 7), ("0", 0),
    ("²", None), ("1²", None), ("①", None), ("٣", None), ("३", None), ("-1", None), ("1.5", None),
    ("", None), ("   ", None), ("9" * 20, None), ("9" * 5000, None), (None, None), (True, None), (7, 7),
])
def test_to_int_reads_ascii_digits_after_width_normalisation(raw: object, expected: int | None) -> None:
    assert to_int(raw) == expected


def test_narrow_changes_width_only() -> None:
    assert narrow("０９１２　３４５．６７８／Ａ") == "0912 345.678/A"
    assert narrow("²①٣") == "²①٣"  # not NFKC: a superscript is not a digit someone meant
    assert digits("０１２") == "012" and digits("0²") is None


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_to_int_never_raises_and_accepts_only_ascii_digits(raw: str) -> None:
    number = to_int(raw)
    assert number is None or narrow(raw).strip().isascii()


# ---------------------------------------------------------------- chat answers


@pytest.mark.parametrize("raw", [SUPERSCRIPT_ID, "001090001²34", "٠٠١٠٩٠٠٠١٢٣٤", "①①①①①①①①①①①①"])
def test_id_number_with_non_ascii_digits_gets_the_invalid_id_answer(raw: str) -> None:
    result = validate("id_number", raw, now=NOW)
    assert not result.ok and result.hint_key == "validation.id_number"
    assert "12 chữ số" in result.hint()


def test_fullwidth_numbers_are_accepted_and_stored_ascii() -> None:
    assert validate("id_number", "００１０９０００１２３４", now=NOW).value == "001090001234"
    assert validate("phone", "０９１２ ３４５ ６７８", now=NOW).value == "+84912345678"
    assert validate("date", "１５／１０／２０２０", now=NOW, when="past").value == "2020-10-15"
    assert validate("choice", "２", now=NOW, options=["Nam", "Nữ"]).value == "Nữ"


@pytest.mark.parametrize(("kind", "raw"), [
    ("phone", "091234567²"), ("phone", "٠٩١٢٣٤٥٦٧٨"), ("date", "1²/10/2020"), ("date", "١٥/١٠/٢٠٢٠"),
    ("choice", "²"),
])
def test_other_digit_forms_are_refused_with_the_usual_hint(kind: str, raw: str) -> None:
    result = validate(kind, raw, now=NOW, options=["Nam", "Nữ"])
    assert not result.ok and result.hint_key and result.hint()


@given(st.sampled_from(sorted(VALIDATORS)), ANY_TEXT)
@settings(max_examples=400, deadline=None)
def test_no_chat_answer_makes_a_validator_raise(kind: str, raw: str) -> None:
    result = validate(kind, raw, now=NOW, options=["Nam", "Nữ"])
    assert result.ok or result.hint()


def test_typed_button_numbers_follow_the_same_rule() -> None:
    payloads = ["check", "human"]
    assert numbered_choice("２", payloads) == "human" and numbered_choice("số ２", payloads) == "human"
    assert numbered_choice("²", payloads) is None and numbered_choice("٢", payloads) is None


def _pump(app: Flask) -> None:
    services, connectors = app.extensions["motcua"], app.extensions["motcua.connectors"]
    worker.drain(services, connectors)
    dispatcher.drain(services, connectors, http_session())


@pytest.mark.rasa
def test_superscript_id_number_gets_the_invalid_id_answer_and_the_flow_goes_on(
        nlu_settings: Settings, make_app: Callable[[Settings], Flask]) -> None:
    app = make_app(nlu_settings)
    client = app.test_client()
    client.get("/")
    seen = 0

    def say(message: str = "", payload: str | None = None) -> str:
        nonlocal seen
        client.post("/chat/api/messages", json={"text": message, "payload": payload})
        _pump(app)
        replies = client.get(f"/chat/api/messages?after={seen}").get_json()["messages"]
        seen = replies[-1]["id"] if replies else seen
        return "\n".join(m["reply"]["text"] for m in replies)

    def step() -> str | None:
        with app.extensions["motcua"].sessions() as session:
            conv = session.scalars(select(Conversation).where(Conversation.channel == "web")).one()
            return (conv.state.get("active") or {}).get("step")

    say("em muốn làm giấy khai sinh cho con")
    if step() is None:  # the procedure answer offers the submit button
        say(payload="/submit_dossier")
    if step() == "consent":
        say(payload="consent:yes")
    if step() == "id_card":  # the ID-card photo offer: this citizen types the details
        say(payload='/card{"do":"type"}')
    assert step() == "applicant_name"
    say("Nguyễn Thị Lan")
    assert step() == "applicant_id_number"
    answer = say(SUPERSCRIPT_ID)
    assert text("validation.id_number") in answer
    assert step() == "applicant_id_number"
    with app.extensions["motcua"].sessions() as session:
        statuses = session.scalars(select(InboundEvent.status)).all()
    assert "failed" not in statuses and all(s == "done" for s in statuses)
    say("001090001234")  # the same turn machinery goes on to the next question
    assert step() not in (None, "applicant_id_number")


# ---------------------------------------------------------------- query strings


@pytest.mark.parametrize("url", [
    "/chat/api/messages?after=²", "/api/v1/dossiers?limit=²", "/staff/dossiers?page=²",
    "/staff/audit?staff=²",
    "/staff/conversations/{conversation}/messages.json?after=²", "/chat/api/messages?after=99999999999",
    "/staff/dossiers?page=" + "9" * 5000, "/staff/conversations/99999999999999999999/messages.json",
    "/staff/dossiers?q=%00",
])
def test_bad_query_values_are_4xx_never_5xx(hostile: Hostile, url: str) -> None:
    where = url.format(conversation=hostile.conversation_id)
    client = hostile.staff if where.startswith("/staff") else hostile.client
    resp = client.get(where, headers=BEARER if where.startswith("/api") else {})
    assert 400 <= resp.status_code < 500, (where, resp.status_code)
    if "²" in where:
        name = where.split("?")[1].split("=")[0]
        assert f"{name} must be" in resp.get_data(as_text=True)


def test_good_query_values_still_work(hostile: Hostile) -> None:
    assert hostile.client.get("/chat/api/messages?after=０").status_code == 200
    assert hostile.client.get("/api/v1/dossiers?limit=5", headers=BEARER).status_code == 200
    assert hostile.staff.get("/staff/dossiers?page=2").status_code == 200
    assert hostile.staff.get("/staff/audit?staff=1").status_code == 200


# ---------------------------------------------------------------- signed webhooks of unexpected shape


def _zalo(h: Hostile, **fields: object) -> int:
    now = str(int(time.time() * 1000))
    event = {"event_name": "user_send_text", "timestamp": now, "sender": {"id": "z-citizen"},
             "message": {"msg_id": "z1", "text": "chào"}, **fields}
    body = json.dumps(event).encode()
    return h.client.post("/webhooks/zalo", data=body, headers=_zalo_headers(body, now)).status_code


def _fb(h: Hostile, batch: dict[str, object]) -> int:
    body = json.dumps(batch).encode()
    return h.client.post("/webhooks/facebook", data=body, headers=_fb_headers(body)).status_code


def _fb_message(mid: str, **item: object) -> dict[str, object]:
    return {"sender": {"id": "6543210987654321"}, "recipient": {"id": "102030405060708"}, "timestamp": 1,
            "message": {"mid": mid, "text": "Tôi muốn nộp hồ sơ"}, **item}


def test_reported_zalo_shapes_are_4xx_or_stored(hostile: Hostile) -> None:
    assert _zalo(hostile, sender="u1") == 400  # no sender: nothing to answer to
    image = {"msg_id": "z2", "attachments": "x"}
    assert _zalo(hostile, event_name="user_send_image", message=image) == 200  # acknowledged, nothing usable
    assert _zalo(hostile, message={"msg_id": "z3", "text": {"a": 1}}) == 200
    assert _zalo(hostile, timestamp=True) == 401  # no usable timestamp: not verifiable
    stored = hostile.stored(["msg:z2", "msg:z3"])
    assert stored["msg:z2"].kind == "ignored" and stored["msg:z3"].inbound["text"] == ""  # type: ignore[index]


PAGE = "102030405060708"


@pytest.mark.parametrize(("bad", "bad_one_stored"), [
    ({"messaging": 5}, False),
    ({"messaging": [_fb_message("m_bad", sender="u1")]}, False),  # from no one: skipped
    ({"messaging": [_fb_message("m_bad", message={"mid": "m_bad", "attachments": "x"})]}, True),
    ({"messaging": [_fb_message("m_bad", message={"mid": "m_bad", "quick_reply": "x"})]}, True),
    ({"messaging": [_fb_message("m_bad", timestamp={"x": 1}, read=[1])]}, True),
    ("not an entry", False),
])
def test_a_messenger_batch_with_a_bad_entry_still_stores_its_valid_events(
        hostile: Hostile, bad: object, bad_one_stored: bool) -> None:
    good_before = {"id": PAGE, "time": 1, "messaging": [_fb_message("m_ok1")]}
    good_after = {"id": PAGE, "time": 1, "messaging": [_fb_message("m_ok2"), _fb_message("m_ok3")]}
    bad_entry = {"id": PAGE, "time": 1, **bad} if isinstance(bad, dict) else bad
    assert _fb(hostile, {"object": "page", "entry": [good_before, bad_entry, good_after]}) == 200
    stored = hostile.stored(["mid:m_ok1", "mid:m_ok2", "mid:m_ok3", "mid:m_bad"])
    assert {"mid:m_ok1", "mid:m_ok2", "mid:m_ok3"} <= set(stored)
    assert all(stored[k].inbound["text"] == "Tôi muốn nộp hồ sơ"  # type: ignore[index]
               for k in ("mid:m_ok1", "mid:m_ok2", "mid:m_ok3"))
    assert ("mid:m_bad" in stored) == bad_one_stored


def test_messenger_odd_but_usable_fields_are_read_not_crashed(hostile: Hostile) -> None:
    item = _fb_message("m_att", message={"mid": "m_att", "quick_reply": "x", "attachments": "x", "text": 5})
    assert _fb(hostile, {"object": "page", "entry": [{"id": "1", "messaging": [item]}]}) == 200
    assert hostile.stored(["mid:m_att"])["mid:m_att"].inbound["text"] == "5"  # type: ignore[index]


def test_text_no_database_can_hold_is_stored_with_a_replacement(hostile: Hostile) -> None:
    body = b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"6543210987654321"},' \
           b'"timestamp":1,"message":{"mid":"m_nul","text":"a\\u0000b\\ud800c"}}]}]}'
    assert hostile.client.post("/webhooks/facebook", data=body, headers=_fb_headers(body)).status_code == 200
    assert hostile.stored(["mid:m_nul"])["mid:m_nul"].inbound["text"] == "a\ufffdb\ufffdc"  # type: ignore[index]


def test_a_parser_bug_costs_one_event_not_the_batch_and_logs_no_text(
        hostile: Hostile, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from connectors.facebook import FacebookConnector

    real = FacebookConnector._message

    def buggy(self: FacebookConnector, message: dict, mid: str, common: dict) -> object:  # type: ignore[type-arg]
        if mid == "m_boom":
            raise KeyError("a shape no test foresaw")
        return real(self, message, mid, common)

    monkeypatch.setattr(FacebookConnector, "_message", buggy)
    batch = {"object": "page", "entry": [{"id": PAGE, "messaging": [
        _fb_message("m_fine1"), _fb_message("m_boom"), _fb_message("m_fine2")]}]}
    with caplog.at_level("WARNING"):
        assert _fb(hostile, batch) == 200
    assert set(hostile.stored(["mid:m_fine1", "mid:m_boom", "mid:m_fine2"])) == {"mid:m_fine1", "mid:m_fine2"}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unreadable (KeyError)" in logged and "2 event(s) read, 1 malformed skipped" in logged
    assert "nộp hồ sơ" not in logged and "6543210987654321" not in logged


def test_a_parser_bug_on_a_single_event_webhook_is_a_400(
        hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.zalo import ZaloConnector

    def buggy(self: ZaloConnector, *args: object) -> object:
        raise TypeError("a shape no test foresaw")

    monkeypatch.setattr(ZaloConnector, "_inbound", buggy)
    assert _zalo(hostile) == 400


@pytest.mark.parametrize("url", [
    "/api/v1/dossiers?since=0001-01-01", "/api/v1/dossiers?since=9999-12-31T23:59:59-05:00",
    "/staff/dossiers?from=0001-01-01", "/staff/dossiers?to=9999-12-31",
])
def test_dates_at_the_ends_of_the_calendar_are_answered(hostile: Hostile, url: str) -> None:
    client = hostile.staff if url.startswith("/staff") else hostile.client
    resp = client.get(url, headers=BEARER)
    assert resp.status_code == 200
    if "9999" in url and url.startswith("/api"):
        assert resp.get_json()["count"] == 0  # nothing changed after the end of the calendar
