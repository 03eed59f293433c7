"""The NLU server killed mid-conversation and started again: nothing lost, nothing answered twice, and the
citizen always hears something useful (what the bot says while it waits is the dialogue's business)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.messages import Inbound
from bot.models import InboundEvent, Message, OutboxMessage
from bot.pipeline import worker
from bot.pipeline.ingest import store_events
from bot.services import Services
from connectors.base import ParsedEvent
from nlu import server

from .conftest import outcome

pytestmark = pytest.mark.rasa
CITIZEN = "nlu-fault-1"


def _kill_server(port: int) -> None:
    """SIGKILL the Rasa process this test started on `port` (our own child, found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"-p" in cmdline and str(port).encode() in cmdline:
            os.kill(int(entry.name), signal.SIGKILL)
            return
    raise AssertionError(f"no Rasa process of ours on port {port}")


def _say(services: Services, message_id: str, words: str) -> None:
    inbound = Inbound("web", CITIZEN, "text", text=words, message_id=message_id)
    store_events(services, "web", [ParsedEvent(f"web:{message_id}", CITIZEN, inbound)], b"{}")


def _settle(services: Services, seconds: float = 90) -> None:
    """Process until no event is unfinished (a turn waiting for the NLU may be deferred a while)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker.drain(services)
        with services.sessions() as session:
            unfinished = session.scalar(select(func.count()).select_from(InboundEvent)
                                        .where(InboundEvent.status.in_(("pending", "processing"))))
        if not unfinished:
            return
        time.sleep(0.5)
    raise AssertionError("events still unfinished")


def _answer(services: Services, message_id: str) -> str:
    with services.sessions() as session:
        replies = session.scalars(select(OutboxMessage.reply).where(OutboxMessage.in_reply_to == message_id)
                                  .order_by(OutboxMessage.id)).all()
    return "\n".join(str(reply.get("text") or "") for reply in replies)


def _intent(services: Services, words: str) -> str | None:
    with services.sessions() as session:
        return session.scalar(select(Message.intent).where(Message.direction == "in", Message.text == words))


def test_nlu_killed_and_restarted_mid_conversation(
        settings: Settings, make_services: Callable[[Settings], Services], tmp_path: Path) -> None:
    port = server.free_port()
    sent = []
    with server.running(port=port, log_dir=tmp_path) as url:
        services = make_services(Settings.load(**{**settings.__dict__, "rasa_url": url, "rasa_timeout": 2.0}))
        _say(services, "n1", "Xin chào")
        _settle(services)
        sent.append("n1")
        assert _answer(services, "n1")
        _kill_server(port)  # mid-conversation
        _say(services, "n2", "Cho tôi hỏi thủ tục đăng ký khai sinh")
        sent.append("n2")
        worker.drain(services)  # answered now (degraded) or deferred until the NLU is back
        with server.running(port=port, log_dir=tmp_path):
            _say(services, "n3", "Làm giấy khai sinh cần giấy tờ gì")
            sent.append("n3")
            _settle(services)
            result = outcome(services, sent)
            print(f"NLU killed and restarted: lost {result.lost}, answered twice {result.twice}")
            assert (result.lost, result.twice) == (0, 0)
            assert all(_answer(services, mid).strip() for mid in sent)  # something said every time
            # Once the NLU is back, the citizen is understood again.
            assert _intent(services, "Làm giấy khai sinh cần giấy tờ gì") not in (None, "out_of_scope")
            assert "khai sinh" in _answer(services, "n3").lower()
