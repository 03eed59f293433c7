"""Delivery and read receipts mark our sent messages delivered and seen (bot/pipeline/receipts.py)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import literal, select

from bot.models import OutboxMessage
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import ingest
from bot.pipeline.receipts import from_ms
from bot.pipeline.store import lists_id
from bot.services import Services
from connectors import build_connectors
from connectors.base import Connector, WebhookRequest

from .conftest import ScriptedDialogue, fb_batch, fb_headers, fb_message, zalo_body, zalo_headers
from .standins import GraphStandIn, ZaloStandIn


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """These tests run a scripted dialogue (injected into their services; see conftest.ScriptedDialogue)."""
    return ScriptedDialogue()
USER = "8123456789012345678"


@pytest.fixture
def connectors(ch_services: Services) -> dict[str, Connector]:
    return build_connectors(ch_services)


def _post(services: Services, connector: Connector, body: bytes, headers: dict[str, str]) -> None:
    assert ingest(services, connector, WebhookRequest(body, headers)).status == 200


def _sent(services: Services) -> list[OutboxMessage]:
    with services.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _zalo_turns(services: Services, connectors: dict[str, Connector], *texts: str) -> list[str]:
    """The citizen writes; each answer is sent; returns the Zalo ids of our messages, in order."""
    for n, said in enumerate(texts):
        body = zalo_body(text=said, msg_id=f"in-{n}", user=USER)
        _post(services, connectors["zalo"], body, zalo_headers(body))
        worker.drain(services, connectors)
        dispatcher.drain(services, connectors)
    return [str(item.platform_message_id) for item in _sent(services)]


def test_zalo_received_then_seen(ch_services: Services, connectors: dict[str, Connector],
                                 zalo_server: ZaloStandIn) -> None:
    first, second, third = _zalo_turns(ch_services, connectors, "một", "hai", "ba")
    seen_ms = int(time.time() * 1000)
    received_ms = seen_ms - 60_000
    received = zalo_body(event="user_received_message", msg_id=second, user=USER, timestamp=received_ms)
    _post(ch_services, connectors["zalo"], received, zalo_headers(received))
    assert worker.drain(ch_services, connectors) == 1
    rows = _sent(ch_services)
    # received the second: the first too (chats arrive in order), not the third
    assert [r.delivered_at for r in rows] == [from_ms(received_ms)] * 2 + [None]
    assert [r.seen_at for r in rows] == [None, None, None]
    seen = zalo_body(event="user_seen_message", msg_id=third, user=USER, timestamp=seen_ms)
    _post(ch_services, connectors["zalo"], seen, zalo_headers(seen))
    worker.drain(ch_services, connectors)
    rows = _sent(ch_services)
    assert [r.seen_at for r in rows] == [from_ms(seen_ms)] * 3
    assert [r.delivered_at for r in rows] == [from_ms(received_ms)] * 2 + [from_ms(seen_ms)]
    assert first  # (ids come from the stand-in's answers)


def test_receipts_for_nothing_of_ours_change_nothing(ch_services: Services, connectors: dict[str, Connector],
                                                     zalo_server: ZaloStandIn) -> None:
    _zalo_turns(ch_services, connectors, "một")
    for body in (zalo_body(event="user_seen_message", msg_id="not-ours", user=USER),
                 zalo_body(event="user_seen_message", msg_id="zmsg-1", user="7000000000000000001")):
        _post(ch_services, connectors["zalo"], body, zalo_headers(body))
    assert worker.drain(ch_services, connectors) == 2
    assert [(r.delivered_at, r.seen_at) for r in _sent(ch_services)] == [(None, None)]


def test_messenger_delivery_and_read_watermark(ch_services: Services, connectors: dict[str, Connector],
                                              graph_server: GraphStandIn) -> None:
    fb = connectors["facebook"]
    for n in range(2):
        body = fb_batch([fb_message("psid-7", f"m_in{n}", text="Cho em hỏi")])
        _post(ch_services, fb, body, fb_headers(body))
        worker.drain(ch_services, connectors)
        dispatcher.drain(ch_services, connectors)
    first, second = _sent(ch_services)
    assert first.sent_at is not None and second.sent_at is not None
    delivery = {"sender": {"id": "psid-7"}, "recipient": {"id": "page"}, "timestamp": int(time.time() * 1000),
                "delivery": {"mids": [first.platform_message_id]}}
    body = fb_batch([delivery])
    _post(ch_services, fb, body, fb_headers(body))
    worker.drain(ch_services, connectors)
    assert [r.delivered_at is not None for r in _sent(ch_services)] == [True, False]
    watermark = int(second.sent_at.timestamp() * 1000) + 1
    read = {"sender": {"id": "psid-7"}, "recipient": {"id": "page"}, "timestamp": watermark + 5,
            "read": {"watermark": watermark}}
    body = fb_batch([read])
    _post(ch_services, fb, body, fb_headers(body))
    worker.drain(ch_services, connectors)
    rows = _sent(ch_services)
    assert all(r.seen_at == from_ms(watermark + 5) and r.delivered_at is not None for r in rows)


def test_platform_timestamps() -> None:
    assert from_ms("1717146000123") == datetime.fromisoformat("2024-05-31T09:00:00.123+00:00")
    assert from_ms(None) is None and from_ms("soon") is None and from_ms("") is None


def test_an_id_matches_only_itself_in_a_list_of_part_ids(ch_services: Services) -> None:


    def names(stored: str, wanted: str) -> bool:
        with ch_services.sessions() as session:
            return bool(session.scalar(select(lists_id(literal(stored), wanted))))

    assert names("zmsg-1", "zmsg-1") and names("zmsg-1,zmsg-2", "zmsg-2") and names("a,zmsg-1,b", "zmsg-1")
    assert not names("zmsg-10", "zmsg-1") and not names("zmsg-10,zmsg-11", "zmsg-1")
    assert not names("x%y", "x_y") and names("x_y", "x_y")  # LIKE wildcards in ids are taken literally
