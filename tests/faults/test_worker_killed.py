"""Worker processes SIGKILLed at random points: every message is still answered, and only once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bot.config import Settings
from bot.messages import Inbound
from bot.models import InboundEvent, OutboxMessage
from bot.pipeline.ingest import store_events
from bot.services import Services
from connectors.base import ParsedEvent

from .conftest import outcome

ROOT = Path(__file__).resolve().parents[2]
CITIZENS, MESSAGES, KILLS = 8, 6, 5


def _start(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT),
           "FAULT_LEASE_SECONDS": "3", "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, str(Path(__file__).parent / "worker_process.py")], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _answered(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def _open(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundEvent)
                                  .where(InboundEvent.status.in_(("pending", "processing")))) or 0)


def test_workers_killed_at_random_points_lose_nothing_and_answer_once(
        settings: Settings, make_services: Callable[[Settings], Services]) -> None:
    services = make_services(settings)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    sent = []
    for n in range(MESSAGES):
        for citizen in range(CITIZENS):
            mid = f"k{citizen}-{n}"
            sent.append(mid)
            inbound = Inbound("web", f"citizen-{citizen}", "text", text=f"tin số {n}", message_id=mid)
            store_events(services, "web", [ParsedEvent(f"web:{mid}", inbound.user_id, inbound)], b"{}")
    kills = 0
    while kills < KILLS and _open(services):
        before = _answered(services)
        proc = _start(settings)
        deadline = time.monotonic() + 15
        while _answered(services) == before and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.15))  # somewhere in the middle of the work
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    proc = _start(settings)  # the last one finishes the queue
    try:
        deadline = time.monotonic() + 60
        while _open(services) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    result = outcome(services, sent)
    with services.sessions() as session:
        retaken = session.scalar(select(func.count()).select_from(InboundEvent)
                                 .where(InboundEvent.attempts > 1))
        dead = session.scalars(select(InboundEvent.error).where(InboundEvent.status == "failed")).all()
    print(f"seed {seed}: {kills} kills, {len(sent)} messages, {retaken} retaken after a kill, lost "
          f"{result.lost}, answered twice {result.twice}, statuses {dict(result.statuses)}, dead: {dead}")
    assert kills >= 2, seed
    assert (result.lost, result.twice) == (0, 0), seed
    assert all(result.answers[mid] <= 1 for mid in sent), seed  # the scripted turn answers once
    assert result.statuses["done"] + result.statuses["failed"] == len(sent), seed
    # In order within each conversation: answers were written in the order the citizen wrote.
    with services.sessions() as session:
        order = session.scalars(select(OutboxMessage.in_reply_to).order_by(OutboxMessage.id)).all()
    for citizen in range(CITIZENS):
        mine = [mid for mid in order if mid and mid.startswith(f"k{citizen}-")]
        assert mine == sorted(mine, key=lambda mid: int(mid.rsplit("-", 1)[1])), seed
