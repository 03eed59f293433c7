"""Insight fixtures: the staff console's accounts and API token, and a generated transcript with the
figures computed from it independently of `bot.insight.stats`."""

from __future__ import annotations

import random
import statistics
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from staff.conftest import API_TOKEN, PASSWORD, Staff, admin, login, make_user, officer, settings  # noqa: F401
from werkzeug.serving import make_server

from bot.config import Settings
from bot.db import transaction, utcnow
from bot.models import Conversation, Dossier, Message

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNELS = ("zalo", "facebook", "web")
OUTCOMES = (None, None, None, "fallback", "handoff_request_human", "handoff_not_understood")
PROCEDURES = ("1.001193", "1.000894", "2.000986")
STATUSES = ("received", "processing", "result_ready", "returned", "rejected")


@dataclass
class World:
    """What was generated, and the figures a reader of the rows would count for `first`..`last`."""

    first: date
    last: date
    messages: list[dict[str, Any]] = field(default_factory=list)
    dossiers: list[dict[str, Any]] = field(default_factory=list)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(ZONE).date()

    def inside(self, at: datetime) -> bool:
        return self.first <= self.local_day(at) <= self.last

    def expected(self) -> dict[str, Any]:
        citizen = [m for m in self.messages if m["author"] == "citizen" and self.inside(m["at"])]
        per_day: dict[str, Counter[str]] = defaultdict(Counter)
        for m in citizen:
            per_day[self.local_day(m["at"]).isoformat()][m["channel"]] += 1
        handoffs = [m for m in citizen if (m["outcome"] or "").startswith("handoff_")]
        waits = []
        for h in handoffs:
            answers = [m["at"] for m in self.messages if m["conv"] == h["conv"] and m["author"] == "staff"
                       and m["at"] >= h["at"]]
            if answers:
                waits.append((min(answers) - h["at"]).total_seconds())
        dossiers = [d for d in self.dossiers if self.inside(d["at"])]
        return {
            "citizen_messages": len(citizen),
            "conversations": len({m["conv"] for m in citizen}),
            "fallbacks": sum(m["outcome"] in ("fallback", "handoff_not_understood") for m in citizen),
            "handoffs_by_reason": dict(Counter(m["outcome"].removeprefix("handoff_") for m in handoffs)),
            "per_day": {d: dict(c) for d, c in per_day.items()},
            "median_wait": statistics.median(waits) if waits else None,
            "answered": len(waits),
            "dossiers_per_procedure": dict(Counter(d["procedure"] for d in dossiers)),
            "funnel": dict(Counter(d["status"] for d in dossiers)),
            "dossiers_per_day": dict(Counter(self.local_day(d["at"]).isoformat() for d in dossiers)),
        }


def generate(app: Flask, seed: int = 7, conversations: int = 12) -> World:
    """A fortnight of transcript and dossiers, some of it outside the last 7 local days."""
    rng = random.Random(seed)
    today = utcnow().astimezone(ZONE).date()
    world = World(first=today - timedelta(days=6), last=today)
    with transaction(app.extensions["motcua"].sessions) as session:
        for n in range(conversations):
            channel = CHANNELS[n % 3]
            conv = Conversation(channel=channel, user_id=f"u-{n}", state={}, profile={})
            session.add(conv)
            session.flush()
            for _ in range(rng.randint(3, 9)):
                day = today - timedelta(days=rng.randint(0, 12))
                at = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59)), ZONE).astimezone(UTC)
                outcome = rng.choice(OUTCOMES)
                session.add(Message(conversation_id=conv.id, direction="in", author="citizen", text="hỏi",
                                    body={}, intent="ask_fee", confidence=rng.random(), outcome=outcome,
                                    procedure_code=rng.choice(PROCEDURES), procedure_score=0.9,
                                    created_at=at))
                world.messages.append({"conv": conv.id, "channel": channel, "author": "citizen", "at": at,
                                       "outcome": outcome})
                if outcome and outcome.startswith("handoff_") and rng.random() < 0.8:
                    answered = at + timedelta(seconds=rng.randint(30, 4000))
                    session.add(Message(conversation_id=conv.id, direction="out", author="staff",
                                        text="chào", body={}, created_at=answered))
                    world.messages.append({"conv": conv.id, "channel": channel, "author": "staff",
                                           "at": answered, "outcome": None})
            for k in range(rng.randint(0, 3)):
                at = utcnow() - timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 23))
                procedure, status = rng.choice(PROCEDURES), rng.choice(STATUSES)
                session.add(Dossier(code=f"D-{n}-{k}", procedure_code=procedure, procedure_name=procedure,
                                    conversation_id=conv.id, channel=channel, user_id=conv.user_id,
                                    applicant={}, status=status, received_at=at,
                                    appointment_date=today + timedelta(days=3), supplement_items=[]))
                world.dossiers.append({"procedure": procedure, "status": status, "at": at})
    return world


@pytest.fixture
def world(app: Flask) -> World:
    return generate(app)


@contextmanager
def serving(base: Settings, **overrides: object) -> Iterator[tuple[Flask, str]]:
    """The app on a free loopback port (werkzeug's threaded server) for headless Chromium."""
    from bot.app import create_app

    app = create_app(Settings.load(**{**base.__dict__, "cookie_secure": False, **overrides}),
                     start_workers=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["motcua"].engine.dispose()
