"""The real dialogue engine and the real NLU server behind every channel's pipeline."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.models import Conversation, Message, OutboxMessage
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import ingest
from bot.services import Services
from connectors import build_connectors
from connectors.base import WebhookRequest, http_session

from .conftest import CITIZEN, channel_settings, fb_batch, fb_headers, fb_message, zalo_body, zalo_headers
from .standins import GraphStandIn, ZaloStandIn

pytestmark = pytest.mark.rasa


@pytest.fixture
def real_settings(nlu_settings: Settings, zalo_server: ZaloStandIn, graph_server: GraphStandIn) -> Settings:
    return channel_settings(nlu_settings, zalo_server, graph_server)


@pytest.fixture
def real_app(real_settings: Settings, make_app: Callable[[Settings], Flask]) -> Flask:
    return make_app(real_settings)


def _pump(app: Flask) -> None:
    services: Services = app.extensions["motcua"]
    connectors = app.extensions["motcua.connectors"]
    worker.drain(services, connectors)
    dispatcher.drain(services, connectors, http_session())


def test_web_chat_with_the_real_engine(real_app: Flask) -> None:
    client = real_app.test_client()
    client.get("/")
    client.post("/chat/api/messages", json={"text": "Xin chào"})
    _pump(real_app)
    first = client.get("/chat/api/messages").get_json()["messages"]
    assert first, "the engine answered nothing"
    texts = " ".join(m["reply"]["text"] for m in first)
    assert "tự động" in texts  # the automated-assistant disclosure comes first
    buttons = [b for m in first for b in m["reply"]["buttons"] if b.get("payload")]
    assert buttons, "the greeting offers buttons"
    client.post("/chat/api/messages", json={"text": buttons[0]["title"], "payload": buttons[0]["payload"]})
    _pump(real_app)
    more = client.get(f"/chat/api/messages?after={first[-1]['id']}").get_json()["messages"]
    assert more and all(len(m["reply"]["text"]) < 2000 for m in more)


def test_zalo_and_messenger_with_the_real_engine(
        real_app: Flask, zalo_server: ZaloStandIn, graph_server: GraphStandIn) -> None:
    services: Services = real_app.extensions["motcua"]
    connectors = build_connectors(services)
    body = zalo_body(text="Cho tôi hỏi lệ phí đăng ký khai sinh", msg_id="real-1")
    assert ingest(services, connectors["zalo"], WebhookRequest(body, zalo_headers(body))).status == 200
    batch = fb_batch([fb_message("psid-real", "m_real", text="Thủ tục đăng ký kết hôn cần giấy tờ gì?")])
    assert ingest(services, connectors["facebook"], WebhookRequest(batch, fb_headers(batch))).status == 200
    _pump(real_app)
    assert zalo_server.sends() and graph_server.sends()
    assert all(c.json["recipient"] == {"message_id": "real-1"} for c in zalo_server.sends())
    with services.sessions() as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
        conv = session.scalars(select(Conversation).where(Conversation.user_id == CITIZEN)).one()
    assert statuses == {"sent"} and conv.mode == "bot"


def test_console_chat_with_the_real_engine(nlu_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bot.pipeline.commands import chat_command

    monkeypatch.setenv("DATABASE_URL", nlu_settings.database_url)
    monkeypatch.setenv("RASA_URL", nlu_settings.rasa_url)
    result = CliRunner().invoke(chat_command, [], input="Xin chào\n1\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    numbered = [line.strip() for line in lines if line.strip()[:2] == "1."]
    assert numbered, "the greeting shows numbered buttons"
    assert "anh/chị> 1" in lines and lines[-1].strip() and lines.index("anh/chị> 1") < len(lines) - 1
    services = Services.build(nlu_settings)
    with services.sessions() as session:
        replies = session.scalars(select(OutboxMessage.reply).order_by(OutboxMessage.id)).all()
        typed = select(Message.intent).where(Message.direction == "in", Message.text == "1")
        intent = session.scalars(typed).one()
    services.engine.dispose()
    first = next(reply for reply in replies if reply["buttons"])["buttons"][0]
    assert numbered[0] == f"1. {first['title']}"
    assert intent == first["payload"].lstrip("/").split("{")[0]  # typing "1" was the tap on the first button
