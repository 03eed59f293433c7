"""Satisfaction: asked once after an officer closes a conversation and once after a result is returned;
the citizen's button press is kept (first press counts); results by officer on the dashboard and the API."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from staff.conftest import add_conversation, add_dossier, db

from bot.agency import Agency
from bot.db import transaction, utcnow
from bot.messages import Inbound
from bot.models import OutboxMessage, SatisfactionRating
from bot.templates import text
from bot.turn import run_turn

from .conftest import API_TOKEN, Staff

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _questions(app: Flask) -> list[dict]:  # type: ignore[type-arg]
    with db(app) as session:
        replies = session.scalars(select(OutboxMessage.reply).order_by(OutboxMessage.id)).all()
    return [r for r in replies if r["text"] in (text("satisfaction.ask_conversation"),
                                                text("satisfaction.ask_dossier"))]


def _press(app: Flask, payload: str, user: str = "psid-1") -> str:
    services = app.extensions["motcua"]
    with transaction(services.sessions) as session:
        replies = run_turn(session, services, Inbound("facebook", user, "payload", text="5", payload=payload))
    return replies[-1].text


def test_closing_asks_once_and_the_answer_counts_for_the_officer(
    app: Flask, officer: Staff, admin: Staff, client: FlaskClient
) -> None:
    conv = add_conversation(app)
    officer.post(f"/staff/conversations/{conv}/claim")
    assert officer.post(f"/staff/conversations/{conv}/close").status_code == 302
    [question] = _questions(app)
    assert [b["title"] for b in question["buttons"]] == [text(f"satisfaction.score_{n}") for n in range(1, 6)]
    # Closed again the same day: not asked a second time.
    officer.post(f"/staff/conversations/{conv}/claim")
    officer.post(f"/staff/conversations/{conv}/close")
    assert len(_questions(app)) == 1
    four = question["buttons"][3]["payload"]
    assert _press(app, four) == text("satisfaction.thanks")
    one = question["buttons"][0]["payload"]
    assert _press(app, one) == text("satisfaction.already")  # the first press counts
    assert _press(app, four, user="someone-else") == text("satisfaction.unknown")  # not their question
    with db(app) as session:
        rating = session.scalars(select(SatisfactionRating)).one()
        assert (rating.score, rating.subject.startswith(f"conversation:{conv}:")) == (4, True)
    page = admin.get("/staff/dashboard?period=today").get_data(as_text=True)
    assert "<tr><td>canbo1</td><td>1</td><td>4.0</td></tr>" in page
    today = Agency.load().local(utcnow()).date()
    body = client.get(f"/api/v1/stats?from={today}&to={today}", headers=AUTH).get_json()["satisfaction"]
    assert (body["asked"], body["answered"], body["average"], body["distribution"]["4"]) == (1, 1, 4.0, 1)


def test_returned_result_asks_once(app: Flask, client: FlaskClient) -> None:
    conv = add_conversation(app, mode="bot", reason=None)
    code = add_dossier(app, conv, status="result_ready")
    response = client.post(f"/api/v1/dossiers/{code}/status", json={"status": "returned"}, headers=AUTH)
    assert response.status_code == 200
    [question] = _questions(app)
    assert question["text"] == text("satisfaction.ask_dossier")
    assert _press(app, question["buttons"][1]["payload"]) == text("satisfaction.thanks")
    with db(app) as session:
        assert session.scalars(select(SatisfactionRating.score)).one() == 2
