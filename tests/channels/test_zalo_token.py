"""Zalo token rotation: refresh on -216/-220 and before expiry; one refresher across workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.config import Settings
from bot.db import transaction, upgrade, utcnow
from bot.messages import Reply
from bot.models import ChannelToken, OutboxMessage
from bot.pipeline import dispatcher
from bot.services import Services
from bot.transcript import conversation_for, enqueue
from connectors import build_connectors
from connectors.base import SendError, http_session
from connectors.zalo import ZaloConnector
from connectors.zalo_token import ZaloTokens

from .conftest import CITIZEN
from .standins import ZaloStandIn


def _stored(services: Services) -> ChannelToken:
    with services.sessions() as session:
        row = session.get(ChannelToken, "zalo")
        assert row is not None
        return row


def _queue_reply(services: Services, text: str = "Dạ em chào anh/chị") -> None:
    with transaction(services.sessions) as session:
        conv = conversation_for(session, "zalo", CITIZEN)
        conv.last_inbound_at = utcnow()
        enqueue(session, conv, Reply.say(text))


def test_expired_token_is_refreshed_once_and_stored(ch_services: Services, zalo_server: ZaloStandIn) -> None:
    connectors = build_connectors(ch_services)
    _queue_reply(ch_services)
    zalo_server.access_token, zalo_server.refresh_token = "access-live", "refresh-1"  # env token is stale
    assert dispatcher.drain(ch_services, connectors) == 1
    assert zalo_server.refresh_calls == 1
    row = _stored(ch_services)
    assert (row.access_token, row.refresh_token) == (zalo_server.access_token, zalo_server.refresh_token)
    assert row.expires_at is not None and row.expires_at > utcnow() + timedelta(hours=24)
    refresh_call = next(c for c in zalo_server.calls if c.path == "/v4/oa/access_token")
    assert refresh_call.headers["secret_key"] == zalo_server.app_secret
    assert b"grant_type=refresh_token" in refresh_call.body
    with ch_services.sessions() as session:
        assert session.get(OutboxMessage, 1).status == "sent"  # type: ignore[union-attr]


def test_token_error_220_and_proactive_refresh(ch_services: Services, zalo_server: ZaloStandIn) -> None:
    tokens = ZaloTokens(ch_services)
    assert tokens.current() == "access-1"
    zalo_server.access_expired = True
    connector = ZaloConnector(ch_services)
    connector.tokens = tokens
    result = connector._call(http_session(), "/v3.0/oa/message/cs",
                             json_body={"recipient": {"user_id": CITIZEN}, "message": {"text": "x"}})
    assert result["error"] == 0 and zalo_server.refresh_calls == 1
    with transaction(ch_services.sessions) as session:  # about to expire: refreshed before use
        session.execute(update(ChannelToken).values(expires_at=utcnow() + timedelta(minutes=5)))
    assert tokens.current() == zalo_server.access_token == "access-3"
    assert zalo_server.refresh_calls == 2


def test_dead_refresh_token_is_a_permanent_error(ch_services: Services, zalo_server: ZaloStandIn) -> None:
    zalo_server.refresh_token = "someone-else-used-it"
    with pytest.raises(SendError) as err:
        ZaloTokens(ch_services).refresh("access-1")
    assert err.value.kind == "permanent" and "-118" in err.value.code


def test_two_workers_refresh_exactly_once(ch_settings: Settings, zalo_server: ZaloStandIn) -> None:
    """Two worker processes (separate engines and connectors) hit -216 at the same moment."""
    zalo_server.access_token = "access-live"  # the stored one is rejected
    zalo_server.oauth_delay = 0.4  # the first refresh is still running when the second worker asks
    workers = [Services.build(ch_settings) for _ in range(2)]
    upgrade(workers[0].engine)
    for services in workers:
        ZaloTokens(services)._seed()
    results: list[object] = []
    barrier = threading.Barrier(2)

    def send(services: Services) -> None:
        connector = ZaloConnector(services)
        barrier.wait()
        try:
            data = connector._call(http_session(), "/v3.0/oa/message/cs",
                                   json_body={"recipient": {"user_id": CITIZEN}, "message": {"text": "x"}})
            results.append(data["error"])
        except SendError as exc:
            results.append(exc)

    threads = [threading.Thread(target=send, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [0, 0]
    assert zalo_server.refresh_calls == 1 and zalo_server.rejected_refreshes == 0
    assert _stored(workers[1]).refresh_token == zalo_server.refresh_token == "refresh-2"
    for services in workers:
        services.engine.dispose()
