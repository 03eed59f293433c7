"""The web chat page end to end through the Flask test client and the real pipeline."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.config import Settings
from bot.models import Conversation, InboundEvent
from bot.pipeline import dispatcher, worker
from bot.web import chat

from .conftest import ScriptedDialogue


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """These tests run a scripted dialogue (injected into their services; see conftest.ScriptedDialogue)."""
    return ScriptedDialogue()


def run_pipeline(app: Flask) -> None:
    """The stored web messages through the worker (turns) and the dispatcher (replies marked sent)."""
    services = app.extensions["motcua"]
    worker.drain(services)
    dispatcher.drain(services, app.extensions["motcua.connectors"])


def sent_messages(client: FlaskClient, after: int = 0) -> list[dict[str, Any]]:
    """What the chat page would poll: replies sent to the client's visitor after message `after`."""
    resp = client.get(f"/chat/api/messages?after={after}")
    assert resp.status_code == 200
    return resp.get_json()["messages"]  # type: ignore[no-any-return]


def visitor_of(app: Flask, client: FlaskClient) -> str:
    """The conversation user id behind a test client's signed chat cookie."""
    cookie = client.get_cookie(chat.COOKIE)
    assert cookie is not None
    with app.test_request_context("/", headers={"Cookie": f"{chat.COOKIE}={cookie.value}"}):
        found = chat.visitor()
    assert found is not None
    return found


def at_document_step(app: Flask, client: FlaskClient, flow: str = "giam_ho",
                     step: str = "giay_to_chung_minh", slots: dict | None = None) -> str:
    """Put the client's conversation at a document step (the state as flows.engine keeps it), with the
    answers its `if:` branch needs (giam_ho asks this document of a giám hộ đương nhiên)."""
    if slots is None:
        slots = {"guardianship_type": "Giám hộ đương nhiên"} if flow == "giam_ho" else {}
    user_id = visitor_of(app, client)
    with app.extensions["motcua"].sessions() as session:
        conv = session.query(Conversation).filter_by(channel="web", user_id=user_id).one_or_none()
        if conv is None:
            conv = Conversation(channel="web", user_id=user_id, state={}, profile={})
            session.add(conv)
        conv.state = {"active": {"flow": flow, "step": step, "slots": dict(slots), "display": {}, "docs": {},
                                 "history": [], "invalid": 0}}
        session.commit()
    return user_id


def test_page_renders_with_cookie(app: Flask) -> None:
    client = app.test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Trợ lý hành chính công" in html and "chat.js" in html and 'type="file"' in html
    assert "motcua_chat=" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    assert client.get("/static/chat.js").status_code == 200


def test_message_buttons_and_poll(app: Flask) -> None:
    client = app.test_client()
    client.get("/")
    resp = client.post("/chat/api/messages", json={"text": "Xin chào, cho em hỏi", "client_id": "c-0000001"})
    assert resp.status_code == 202
    assert sent_messages(client) == []  # nothing sent before the pipeline ran
    run_pipeline(app)
    [first] = sent_messages(client)
    assert first["reply"]["text"] == "Em nhận được: Xin chào, cho em hỏi"
    assert [b["payload"] for b in first["reply"]["buttons"]] == ["check_status", "human"]
    click = {"text": "Tra cứu hồ sơ", "payload": "check_status", "client_id": "c-0000002"}
    assert client.post("/chat/api/messages", json=click).status_code == 202
    assert client.post("/chat/api/messages", json=click).get_json()["duplicate"] is True  # resend
    run_pipeline(app)
    [second] = sent_messages(client, after=first["id"])
    assert second["reply"]["text"] == "Em nhận được: check_status"
    other = app.test_client()  # another visitor sees nothing of this conversation
    other.get("/")
    assert sent_messages(other) == []


def test_upload_goes_through_the_pipeline(app: Flask, settings: Settings) -> None:
    client = app.test_client()
    client.get("/")
    user_id = at_document_step(app, client)
    data = {"file": (io.BytesIO(b"%PDF-1.4 test"), "đơn đề nghị.pdf", "application/pdf"),
            "client_id": "up-000001"}
    resp = client.post("/chat/api/upload", data=data, content_type="multipart/form-data")
    assert resp.status_code == 202
    with app.extensions["motcua"].sessions() as session:
        event = session.scalars(select(InboundEvent)).one()
    attachment = event.inbound["attachments"][0]  # type: ignore[index]
    assert (attachment["kind"], attachment["name"], attachment["size"]) == ("file", "đơn đề nghị.pdf", 13)
    key = attachment["url"].rsplit("/", 1)[1]
    assert attachment["url"] == f"/chat/uploads/{user_id}/{key}"  # no PUBLIC_BASE_URL: relative
    assert (settings.files_dir / "web" / user_id / key).read_bytes() == b"%PDF-1.4 test"  # generated name
    assert client.get(attachment["url"]).get_data() == b"%PDF-1.4 test"
    from bot.document import fetch
    from bot.messages import Attachment

    assert fetch(Attachment(**attachment), settings) == b"%PDF-1.4 test"  # read from disk, not downloaded
    assert client.get("/chat/uploads/..%2Fetc").status_code == 404
    run_pipeline(app)
    [reply] = sent_messages(client)
    assert reply["reply"]["text"] == "Em nhận được: attachment"


def test_bad_input_gets_clear_answers(app: Flask) -> None:
    client = app.test_client()
    client.get("/")
    at_document_step(app, client)
    assert client.post("/chat/api/messages", json={"text": "   "}).status_code == 400
    assert client.post("/chat/api/messages", data="no json").status_code == 400
    too_long = client.post("/chat/api/messages", json={"text": "a" * 2001})
    assert too_long.status_code == 400 and "2000" in too_long.get_json()["error"]
    assert client.post("/chat/api/upload", data={}, content_type="multipart/form-data").status_code == 400
    big = {"file": (io.BytesIO(b"x" * (11 * 1024 * 1024)), "big.jpg", "image/jpeg")}
    assert client.post("/chat/api/upload", data=big, content_type="multipart/form-data").status_code == 413
    bad_after = client.get("/chat/api/messages?after=abc")
    assert bad_after.status_code == 400 and "after must be a whole number" in bad_after.get_json()["error"]


def test_embedded_workers_answer_on_their_own(settings: Settings, dialogue: ScriptedDialogue) -> None:
    from bot.app import create_app

    app = create_app(Settings(**{**settings.__dict__, "embedded_workers": True}), start_workers=True,
                     dialogue=dialogue)
    runner = app.extensions["motcua.runner"]
    try:
        client = app.test_client()
        client.get("/")
        client.post("/chat/api/messages", json={"text": "Giờ làm việc thế nào ạ?"})
        deadline = time.monotonic() + 10
        while not (found := sent_messages(client)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found and found[0]["reply"]["text"] == "Em nhận được: Giờ làm việc thế nào ạ?"
    finally:
        runner.stop()
        app.extensions["motcua"].engine.dispose()
