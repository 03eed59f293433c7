"""Several worker processes against one database: every message answered once, in order per citizen."""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import func, select

from bot.config import Settings
from bot.db import upgrade
from bot.models import OutboxMessage
from bot.pipeline.ingest import ingest
from bot.pipeline.runner import Runner
from bot.services import Services
from connectors import build_connectors
from connectors.base import WebhookRequest

from .conftest import ScriptedDialogue, zalo_body, zalo_headers
from .standins import ZaloStandIn

USERS, MESSAGES = 5, 6


def test_two_worker_processes_share_the_work(ch_settings: Settings, zalo_server: ZaloStandIn,
                                             scripted_dialogue: ScriptedDialogue) -> None:
    # separate engines, like separate processes
    nodes = [Services.build(ch_settings, dialogue=scripted_dialogue) for _ in range(2)]
    upgrade(nodes[0].engine)
    connectors = build_connectors(nodes[0])
    for n in range(MESSAGES):
        for u in range(USERS):
            body = zalo_body(text=f"tin {n}", msg_id=f"u{u}-m{n}", user=f"70{u}")
            ack = ingest(nodes[0], connectors["zalo"], WebhookRequest(body, zalo_headers(body)))
            assert ack.status == 200
    runners = [Runner(s, build_connectors(s), processors=2, dispatchers=1).start() for s in nodes]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with nodes[0].sessions() as session:
                sent = session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
            if sent == USERS * MESSAGES:
                break
            time.sleep(0.2)
    finally:
        for runner in runners:
            runner.stop()
    per_user: dict[str, list[str]] = defaultdict(list)
    for call in zalo_server.sends():
        per_user[call.json["recipient"]["message_id"].split("-")[0]].append(call.json["message"]["text"])
    assert sorted(per_user) == [f"u{u}" for u in range(USERS)]
    for texts in per_user.values():  # each message answered exactly once, in the order it was written
        assert texts == [f"Em nhận được: tin {n}" for n in range(MESSAGES)]
    for services in nodes:
        services.engine.dispose()

