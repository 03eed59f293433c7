"""Channel fixtures: stand-in platform servers, settings pointing at them, a scripted dialogue, signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from bot.config import Settings
from bot.messages import Button, Reply
from bot.services import Services

from .standins import GraphStandIn, ZaloStandIn

ZALO_APP_ID = "4312345678901234567"
ZALO_OA_SECRET = "TestOaSecretKey_ABC123xyz"
FB_APP_SECRET = "test_app_secret_0123456789abcdef"
FB_VERIFY_TOKEN = "meatyhamhock"
OA_ID = "1987654321098765432"
CITIZEN = "8123456789012345678"


@pytest.fixture
def zalo_server() -> Iterator[ZaloStandIn]:
    server = ZaloStandIn(app_id=ZALO_APP_ID).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def graph_server() -> Iterator[GraphStandIn]:
    server = GraphStandIn().start()
    yield server  # type: ignore[misc]
    server.stop()


def channel_settings(base: Settings, zalo: ZaloStandIn, graph: GraphStandIn, **extra: Any) -> Settings:
    values = {
        **base.__dict__,
        "zalo_app_id": ZALO_APP_ID,
        "zalo_app_secret": zalo.app_secret,
        "zalo_oa_secret_key": ZALO_OA_SECRET,
        "zalo_access_token": zalo.access_token,
        "zalo_refresh_token": zalo.refresh_token,
        "zalo_api_base": zalo.url,
        "zalo_oauth_base": zalo.url,
        "facebook_app_secret": FB_APP_SECRET,
        "facebook_verify_token": FB_VERIFY_TOKEN,
        "facebook_page_access_token": graph.page_token,
        "facebook_graph_base": graph.url,
        "facebook_graph_version": "v25.0",
        "facebook_app_id": "1517776481860111",
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def ch_settings(settings: Settings, zalo_server: ZaloStandIn, graph_server: GraphStandIn) -> Settings:
    return channel_settings(settings, zalo_server, graph_server)


@pytest.fixture
def ch_services(ch_settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(ch_settings)


@pytest.fixture
def ch_app(ch_settings: Settings, make_app: Callable[[Settings], Flask]) -> Flask:
    return make_app(ch_settings)


def scripted_turn(turn: Any) -> list[Reply]:
    """A stand-in dialogue: answers every message with its text and two buttons, so tests can count."""
    said = turn.inbound.payload or turn.inbound.text or turn.inbound.kind
    return [Reply.say(f"Em nhận được: {said}", Button("Tra cứu hồ sơ", "check_status"),
                      Button("Gặp cán bộ", "human"))]


class ScriptedDialogue:
    """A stand-in dialogue for pipeline tests (the real engine is tested in tests/dialogue), injected through
    the services (`bot.services.Services.dialogue`): `answer` gives a turn's replies (default
    `scripted_turn`); a test may hand in another one."""

    def __init__(self, answer: Callable[[Any], list[Reply]] = scripted_turn) -> None:
        self.answer = answer

    def handle_turn(self, turn: Any) -> list[Reply]:
        return self.answer(turn)

    def preload(self, data_dir: Any) -> None:
        """Nothing to read."""


@pytest.fixture
def scripted_dialogue() -> ScriptedDialogue:
    """Request as `dialogue` (`def dialogue(scripted_dialogue)` in a test module, or parametrize
    `dialogue`) to make the test's services run it."""
    return ScriptedDialogue()


def zalo_body(event: str = "user_send_text", text: str = "Tôi muốn tra cứu hồ sơ", msg_id: str = "m1",
              user: str = CITIZEN, timestamp: int | None = None, **extra: Any) -> bytes:
    ts = str(timestamp if timestamp is not None else int(time.time() * 1000))
    if event.startswith("oa_send_") or event in ("user_received_message", "user_seen_message"):
        sender, recipient = OA_ID, user  # the OA's own messages (and receipts for them) (channels.md §1.2)
    else:
        sender, recipient = user, OA_ID
    data: dict[str, Any] = {"app_id": ZALO_APP_ID, "user_id_by_app": "5520199887766554433",
                            "event_name": event, "timestamp": ts, "sender": {"id": sender},
                            "recipient": {"id": recipient}, "message": {"text": text, "msg_id": msg_id}}
    data.update(extra)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def zalo_headers(body: bytes, secret: str = ZALO_OA_SECRET, prefix: str = "mac=") -> dict[str, str]:
    ts = str(json.loads(body)["timestamp"])
    digest = hashlib.sha256(ZALO_APP_ID.encode() + body + ts.encode() + secret.encode()).hexdigest()
    return {"X-ZEvent-Signature": prefix + digest, "Content-Type": "application/json"}


def fb_headers(body: bytes, secret: str = FB_APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + digest, "Content-Type": "application/json"}


def fb_batch(*entries: list[dict[str, Any]], page: str = "102030405060708") -> bytes:
    """A Messenger batch; Meta escapes non-ASCII characters, so the bytes are pure ASCII."""
    body = {"object": "page", "entry": [{"id": page, "time": int(time.time() * 1000), "messaging": events}
                                        for events in entries]}
    return json.dumps(body, separators=(",", ":")).encode()


def fb_message(psid: str, mid: str, text: str = "Tôi muốn nộp hồ sơ", **message: Any) -> dict[str, Any]:
    return {"sender": {"id": psid}, "recipient": {"id": "102030405060708"},
            "timestamp": int(time.time() * 1000), "message": {"mid": mid, "text": text, **message}}
