"""Rounds: one event thread runs two rounds at a time (bot.pipeline.worker.Processor), so a round whose NLU
parse is still being fetched does not hold up a round that needs nothing from the network (and never shares a
conversation with it); a dispatcher round sends its replies at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.messages import Inbound, Reply
from bot.models import InboundEvent, OutboxMessage
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import ingest
from bot.services import Services
from connectors import build_connectors
from connectors.base import Connector, WebhookRequest, http_session
from flows.turn import Needs

from .conftest import CITIZEN, zalo_body, zalo_headers

OTHER = "8810000000000000002"


class GatedNLU:
    """An NLU server that answers only once the test opens the gate."""

    def __init__(self) -> None:
        self.gate, self.asked = threading.Event(), []

    def parse(self, text: str) -> str:
        self.asked.append(text)
        assert self.gate.wait(10), "the test never opened the gate"
        return f"parsed: {text}"


class QuestionDialogue:
    """Messages ending in "?" need the NLU's parse (read ahead); the reply says what the turn got."""

    def read_ahead(self, services: Services, state: dict[str, Any], inbound: Inbound, now: datetime) -> Needs:
        return Needs(parse=inbound.text.endswith("?"))

    def handle_turn(self, turn: Any) -> list[Reply]:
        got = turn.parse() if turn.inbound.text.endswith("?") else "nothing"
        return [Reply.say(f"{turn.inbound.text} -> {got}")]

    def preload(self, data_dir: Any) -> None:
        """Nothing to read."""


@pytest.fixture
def dialogue() -> QuestionDialogue:
    return QuestionDialogue()


@pytest.fixture
def gated(ch_services: Services) -> tuple[Services, GatedNLU]:
    nlu = GatedNLU()
    return replace(ch_services, nlu=nlu), nlu  # type: ignore[arg-type]


def _send(services: Services, connectors: dict[str, Connector], text: str, msg_id: str, user: str) -> None:
    body = zalo_body(text=text, msg_id=msg_id, user=user)
    assert ingest(services, connectors["zalo"], WebhookRequest(body, zalo_headers(body))).status == 200


def _replies(services: Services) -> list[str]:
    with services.sessions() as session:
        return [o.reply["text"] for o in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def _statuses(services: Services) -> dict[str, str]:
    with services.sessions() as session:
        events = session.scalars(select(InboundEvent))
        return {(e.inbound or {}).get("message_id", ""): e.status for e in events}


def test_a_round_waiting_for_the_nlu_does_not_hold_up_the_next(gated: tuple[Services, GatedNLU]) -> None:
    services, nlu = gated
    connectors = build_connectors(services)
    processor = worker.Processor(services, connectors, limit=16)
    _send(services, connectors, "thu tuc khai sinh?", "q1", CITIZEN)
    assert processor.step() == 1  # claimed; its parse is being fetched in the background
    assert processor.ahead is not None and _replies(services) == []

    _send(services, connectors, "cam on", "q2", CITIZEN)  # the same citizen: waits behind the question
    _send(services, connectors, "xin chao", "o1", OTHER)  # another citizen, nothing to fetch: runs at once
    assert processor.step() == 1
    assert _replies(services) == ["xin chao -> nothing"]
    assert _statuses(services)["q2"] == "pending"

    nlu.gate.set()
    while processor.step():
        pass
    assert _replies(services) == ["xin chao -> nothing", "thu tuc khai sinh? -> parsed: thu tuc khai sinh?",
                                  "cam on -> nothing"]
    assert nlu.asked == ["thu tuc khai sinh?"]  # fetched once, before the transaction
    assert set(_statuses(services).values()) == {"done"}


def test_the_round_still_fetching_runs_when_the_thread_stops(gated: tuple[Services, GatedNLU]) -> None:
    services, nlu = gated
    processor = worker.Processor(services, build_connectors(services), limit=16)
    _send(services, build_connectors(services), "le phi bao nhieu?", "q1", CITIZEN)
    assert processor.step() == 1 and processor.ahead is not None
    nlu.gate.set()
    processor.finish()
    assert processor.ahead is None
    assert _replies(services) == ["le phi bao nhieu? -> parsed: le phi bao nhieu?"]


class MeetingConnector:
    """A platform whose send returns only once a second send is in flight (a barrier of two): it answers
    only if the dispatcher sends a round's replies at once."""

    name, has_typing = "zalo", False

    def __init__(self) -> None:
        self.barrier, self.sent = threading.Barrier(2, timeout=10), []

    def send(self, reply: Reply, target: Any, http: Any) -> list[str]:
        self.barrier.wait()
        self.sent.append(target.user_id)
        return [f"mid-{target.user_id}"]


def test_a_dispatch_round_sends_its_replies_at_once(ch_services: Services) -> None:
    connectors = build_connectors(ch_services)
    for n, user in enumerate((CITIZEN, OTHER)):
        _send(ch_services, connectors, "xin chao", f"m{n}", user)
    worker.drain(ch_services, connectors)
    platform = MeetingConnector()
    assert dispatcher.dispatch_once(ch_services, {"zalo": platform}, http_session()) == 2  # type: ignore[dict-item]
    assert sorted(platform.sent) == sorted([CITIZEN, OTHER])
    with ch_services.sessions() as session:
        assert [o.status for o in session.scalars(select(OutboxMessage))] == ["sent", "sent"]
