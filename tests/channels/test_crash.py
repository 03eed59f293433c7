"""A worker process killed (SIGKILL) at any point: after a restart everything is answered exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import ROOT, Settings
from bot.db import utcnow
from bot.models import InboundEvent, OutboxMessage
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import ingest
from bot.services import Services
from connectors import build_connectors
from connectors.base import WebhookRequest, http_session

from .conftest import ScriptedDialogue, zalo_body, zalo_headers
from .standins import ZaloStandIn

CHILD = textwrap.dedent("""
    import os, signal, sys
    from bot.config import Settings
    from bot.services import Services
    from bot.pipeline import dispatcher, worker
    from connectors import build_connectors
    from tests.channels.conftest import ScriptedDialogue, scripted_turn

    point = sys.argv[1]

    def turn(t):
        if point == "in_turn":
            os.kill(os.getpid(), signal.SIGKILL)
        return scripted_turn(t)

    services = Services.build(Settings.load(), dialogue=ScriptedDialogue(turn))
    connectors = build_connectors(services)
    worker.drain(services, connectors)
    if point == "after_claim":
        dispatcher.claim_outbox(services, list(connectors))
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url,
            "ZALO_APP_ID": settings.zalo_app_id, "ZALO_APP_SECRET": settings.zalo_app_secret,
            "ZALO_OA_SECRET_KEY": settings.zalo_oa_secret_key,
            "ZALO_ACCESS_TOKEN": settings.zalo_access_token,
            "ZALO_REFRESH_TOKEN": settings.zalo_refresh_token, "ZALO_API_BASE": settings.zalo_api_base,
            "ZALO_OAUTH_BASE": settings.zalo_oauth_base, "FACEBOOK_APP_SECRET": "", "LOG_LEVEL": "WARNING"}


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """The restarted worker (this process) runs the scripted dialogue the killed one ran."""
    return ScriptedDialogue()


@pytest.mark.parametrize("point", ["in_turn", "after_turn", "after_claim"])
def test_killed_worker_restarts_without_loss_or_duplicate(
        point: str, ch_settings: Settings, ch_services: Services, zalo_server: ZaloStandIn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    connectors = build_connectors(ch_services)
    for n in range(3):
        body = zalo_body(text=f"Câu hỏi số {n}", msg_id=f"crash-{n}", user=f"90{n}")
        assert ingest(ch_services, connectors["zalo"], WebhookRequest(body, zalo_headers(body))).status == 200
    child = subprocess.run([sys.executable, "-c", CHILD, point], env=_env(ch_settings), cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, child.stderr
    assert zalo_server.sends() == []  # died before anything went out
    with ch_services.sessions() as session:
        events = sorted(session.scalars(select(InboundEvent.status)))
        outbox = sorted(session.scalars(select(OutboxMessage.status)))
    expected = {"in_turn": (["processing"] * 3, []),  # claimed as a batch, died in the first turn
                "after_turn": (["done"] * 3, ["pending"] * 3),
                "after_claim": (["done"] * 3, ["sending"] * 3)}[point]
    assert (events, outbox) == expected

    # restart: a new worker and dispatcher, after the dead process's leases expired
    later = utcnow() + worker.LEASE + timedelta(seconds=1)
    while claims := worker.claim_events(ch_services, limit=10, now=later):
        for claim in claims:
            assert worker.process(ch_services, claim) == "done"
    http = http_session()
    while claims := dispatcher.claim_outbox(ch_services, list(connectors), now=later):
        for claim in claims:
            assert dispatcher.send_one(ch_services, connectors, claim, http) == "sent"

    texts = sorted(c.json["message"]["text"] for c in zalo_server.sends())
    assert texts == [f"Em nhận được: Câu hỏi số {n}" for n in range(3)]
    with ch_services.sessions() as session:
        assert set(session.scalars(select(InboundEvent.status))) == {"done"}
        assert [o.status for o in session.scalars(select(OutboxMessage))] == ["sent"] * 3
