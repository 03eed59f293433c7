"""A turn that meets an NLU server still loading its model waits in the queue, then gets the real answer;
the degraded mode is kept for a real outage (an event older than NLU_PATIENCE): it reads the request itself
where it can (flows.dialogue.without_nlu), else answers with the "busy" menu."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from bot.config import Settings
from bot.db import transaction, utcnow
from bot.models import InboundEvent, OutboxMessage
from bot.pipeline import worker
from bot.services import Services
from bot.templates import text
from nlu.server import free_port

QUESTION = "chao ad, dang ky khai sinh can giay to gi"
SMALL_TALK = "chao ad, hom nay troi dep qua"


def _ask(app: Flask, client_id: str, message: str = QUESTION) -> None:
    client = app.test_client()
    client.get("/")
    resp = client.post("/chat/api/messages", json={"text": message, "client_id": client_id})
    assert resp.status_code == 202


def _replies(services: Services) -> list[str]:
    with services.sessions() as session:
        rows = session.scalars(select(OutboxMessage.reply).order_by(OutboxMessage.id))
        return [row["text"] for row in rows]


def _event(services: Services) -> InboundEvent:
    with services.sessions() as session:
        return session.scalars(select(InboundEvent)).one()


@pytest.mark.rasa
def test_turn_waits_for_a_starting_nlu_then_answers(
        settings: Settings, nlu_settings: Settings, make_app: Callable[[Settings], Flask],
        make_services: Callable[[Settings], Services]) -> None:
    down = Settings.load(**{**settings.__dict__, "rasa_url": f"http://127.0.0.1:{free_port()}"})
    app = make_app(down)
    starting: Services = app.extensions["motcua"]
    _ask(app, "wait-0001")

    assert worker.work_once(starting) == 1
    event = _event(starting)
    assert (event.status, event.attempts) == ("pending", 0)  # back in the queue, no attempt used up
    assert _replies(starting) == []  # no busy menu
    assert worker.work_once(starting) == 0  # not before its retry time

    time.sleep(worker.NLU_RETRY.total_seconds() + 0.1)
    ready = make_services(nlu_settings)  # the same database, the NLU server now answers
    assert worker.work_once(ready) == 1
    assert _event(ready).status == "done"
    replies = _replies(ready)
    assert text("dialogue.nlu_down") not in replies
    assert any("Đăng ký khai sinh" in reply and "giấy tờ" in reply for reply in replies)


@pytest.mark.parametrize(("message", "busy"), [(QUESTION, False), (SMALL_TALK, True)])
def test_after_the_patience_the_degraded_mode_answers(
        settings: Settings, make_app: Callable[[Settings], Flask], message: str, busy: bool) -> None:
    down = Settings.load(**{**settings.__dict__, "rasa_url": f"http://127.0.0.1:{free_port()}"})
    app = make_app(down)
    services: Services = app.extensions["motcua"]
    _ask(app, "wait-0002", message)
    with transaction(services.sessions) as session:
        session.execute(update(InboundEvent).values(
            received_at=utcnow() - worker.NLU_PATIENCE - timedelta(seconds=1)))

    assert worker.work_once(services) == 1
    assert _event(services).status == "done"
    replies = _replies(services)
    assert (text("dialogue.nlu_down") in replies) is busy
    # a question the degraded mode can read is answered from the catalogue instead of the busy menu
    assert busy or any("Đăng ký khai sinh" in reply and "giấy tờ" in reply for reply in replies)
