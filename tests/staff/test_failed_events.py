"""Console page of dead letters: listed without the citizen's words, opened (audited), retried, dismissed."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from bot.db import transaction, utcnow
from bot.messages import Inbound, Reply
from bot.models import AuditLog, Conversation, InboundEvent, OutboxMessage
from bot.pipeline import worker
from tests.channels.conftest import ScriptedDialogue

from .conftest import Staff, add_conversation, db

WORDS = "Tôi tên Lê Thị Hoa, số định danh 001203004567"


def _dead_letter(app: Flask, status: str = "failed", user: str = "zu-1") -> int:
    add_conversation(app, channel="zalo", user_id=user, reason="turn_failed")
    inbound = Inbound(channel="zalo", user_id=user, kind="text", text=WORDS, message_id="zm-9")
    with transaction(app.extensions["motcua"].sessions) as session:
        event = InboundEvent(channel="zalo", event_id=f"msg:{user}", user_id=user, raw=b"{}", kind="message",
                             inbound=inbound.to_dict(), status=status, attempts=5, processed_at=utcnow(),
                             error=f"ValueError: cannot read {WORDS!r}")
        session.add(event)
        session.flush()
        return event.id


def _event(app: Flask, event_id: int) -> InboundEvent:
    with db(app) as session:
        event = session.get(InboundEvent, event_id)
        assert event is not None
        return event


def _actions(app: Flask) -> list[tuple[str, str | None]]:
    with db(app) as session:
        return [(a.action, a.object_id) for a in session.scalars(
            select(AuditLog).where(AuditLog.object_type == "inbound_event").order_by(AuditLog.id))]


def test_the_list_shows_ids_and_error_class_only_and_opening_is_audited(app: Flask, officer: Staff) -> None:
    event_id = _dead_letter(app)
    assert 'href="/staff/failed"' in officer.get("/staff/").get_data(as_text=True)  # in the nav
    page = officer.get("/staff/failed").get_data(as_text=True)
    assert f"#{event_id}" in page and "ValueError" in page and "Zalo" in page
    assert "Lê Thị Hoa" not in page and "001203004567" not in page and "cannot read" not in page
    assert _actions(app) == []
    opened = officer.get(f"/staff/failed/{event_id}").get_data(as_text=True)
    assert "Lê Thị Hoa, số định danh 001203004567" in opened and "ValueError: cannot read" in opened
    assert _actions(app) == [("failed_event.view", str(event_id))]


def fixed(turn: object) -> list[Reply]:
    """The dialogue once the bug that made the event a dead letter is fixed."""
    return [Reply.say("Dạ, em đã nhận được thông tin.")]


@pytest.mark.parametrize("dialogue", [ScriptedDialogue(fixed)], ids=["fixed"])
def test_retry_queues_the_event_again_and_the_worker_answers_it(app: Flask, officer: Staff) -> None:
    event_id = _dead_letter(app)
    assert officer.client.post(f"/staff/failed/{event_id}/retry").status_code == 400  # no CSRF token
    assert _event(app, event_id).status == "failed"
    assert officer.post(f"/staff/failed/{event_id}/retry").status_code == 302
    event = _event(app, event_id)
    assert (event.status, event.attempts, event.error, event.locked_until) == ("pending", 0, None, None)
    assert _actions(app) == [("failed_event.retry", str(event_id))]
    assert f"#{event_id}" not in officer.get("/staff/failed").get_data(as_text=True)

    with db(app) as session:  # the officer hands the conversation back to the bot
        conv = session.scalars(select(Conversation)).one()
        conv.mode = "bot"
        session.commit()
    assert worker.drain(app.extensions["motcua"]) == 1
    assert _event(app, event_id).status == "done"
    with db(app) as session:
        [item] = session.scalars(select(OutboxMessage)).all()
        assert item.reply["text"] == "Dạ, em đã nhận được thông tin." and item.in_reply_to == "zm-9"


def test_dismiss_finishes_it_and_only_dead_letters_can_be_touched(app: Flask, officer: Staff) -> None:
    event_id = _dead_letter(app)
    done_id = _dead_letter(app, status="done", user="zu-2")
    assert officer.post(f"/staff/failed/{event_id}/dismiss").status_code == 302
    assert _event(app, event_id).status == "ignored"
    assert officer.post(f"/staff/failed/{done_id}/retry").status_code == 302
    assert officer.post(f"/staff/failed/{done_id}/dismiss").status_code == 302
    assert _event(app, done_id).status == "done"
    assert officer.get(f"/staff/failed/{done_id}").status_code == 404
    assert officer.post("/staff/failed/9999/retry").status_code == 404
    assert officer.post(f"/staff/failed/{event_id}/delete").status_code == 404
    assert _actions(app) == [("failed_event.dismiss", str(event_id))]
