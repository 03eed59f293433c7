"""The review inbox without the NLU server: which messages enter it, grouping, masking, labels from the
console and the API, the reviewer right, and the export that never repeats a held-out text."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from staff.conftest import add_conversation, db

from bot.db import transaction, utcnow
from bot.insight import review
from bot.models import AuditLog, Message, NluExample, StaffUser
from nlu.evaluation import load_examples
from nlu.server import ROOT

from .conftest import API_TOKEN, Staff, login, make_user  # noqa: F401

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _say(app: Flask, conv: int, text: str, *, minutes_ago: int = 30, **reading: object) -> int:
    with transaction(app.extensions["motcua"].sessions) as session:
        message = Message(conversation_id=conv, direction="in", author="citizen", text=text, body={},
                          created_at=utcnow() - timedelta(minutes=minutes_ago),
                          **{"intent": "ask_fee", "confidence": 0.95, **reading})
        session.add(message)
        session.flush()
        return message.id


def _world(app: Flask) -> dict[str, int]:
    conv = add_conversation(app, mode="bot", reason=None)  # profile name "Nguyễn Văn An"
    other = add_conversation(app, mode="bot", reason=None, user_id="psid-2")
    return {
        "sure": _say(app, conv, "lệ phí khai sinh bao nhiêu", minutes_ago=50),
        "low": _say(app, conv, "Tôi là Nguyễn Văn An, sđt 0912 345 678, CCCD 001203012345 hỏi vụ đất",
                    minutes_ago=40, intent="greet", confidence=0.3),
        # The same words typed without diacritics and other digits: grouped with the one above.
        "low_again": _say(app, other, "toi la nguyen van an sdt 0987654321 cccd 001203099999 hoi vu dat",
                          minutes_ago=39, intent="greet", confidence=0.35),
        "fallback": _say(app, conv, "cái đó sao ạ", minutes_ago=20, confidence=0.7, outcome="fallback"),
        "before_human": _say(app, other, "mẫu đơn đâu", minutes_ago=10, intent="ask_documents"),
        "human": _say(app, other, "cho gặp người thật", minutes_ago=9, intent="request_human"),
        "unsure_procedure": _say(app, other, "làm giấy tờ đất", minutes_ago=5, procedure_code="1.001193",
                                 procedure_score=0.6),
        "button": _say(app, other, "", minutes_ago=4, confidence=None),
    }


def test_inbox_lists_unsure_messages_grouped_newest_first(app: Flask, client: FlaskClient) -> None:
    ids = _world(app)
    items = client.get("/api/v1/nlu/review", headers=AUTH).get_json()["items"]
    by_id = {i["id"]: i for i in items}
    assert [i["id"] for i in items] == [ids["unsure_procedure"], ids["before_human"], ids["fallback"],
                                        ids["low_again"]]
    assert by_id[ids["low_again"]]["message_ids"] == [ids["low_again"], ids["low"]]
    assert by_id[ids["low_again"]]["reasons"] == ["low_confidence"]
    assert by_id[ids["before_human"]]["reasons"] == ["asked_for_human"]
    assert by_id[ids["unsure_procedure"]]["reasons"] == ["procedure_unsure"]
    assert by_id[ids["unsure_procedure"]]["procedure"] == "1.001193"
    assert by_id[ids["fallback"]]["reasons"] == ["fallback"]
    assert set(by_id[ids["low_again"]]) >= {"id", "text", "intent", "confidence", "procedure"}


def test_labels_are_masked_and_leave_the_inbox(app: Flask, client: FlaskClient) -> None:
    ids = _world(app)
    answer = client.post(f"/api/v1/nlu/review/{ids['low']}", json={"intent": "ask_procedure",
                                                                   "procedure": "1.001193"}, headers=AUTH)
    assert answer.status_code == 200
    with db(app) as session:
        example = session.scalars(select(NluExample).where(NluExample.message_id == ids["low"])).one()
    assert example.text == "Tôi là <họ tên>, sđt <số điện thoại>, CCCD <số định danh> hỏi vụ đất"
    assert (example.intent, example.procedure_code, example.dismissed) == ("ask_procedure", "1.001193", False)
    dismissed = client.post(f"/api/v1/nlu/review/{ids['fallback']}", json={"dismiss": True}, headers=AUTH)
    assert dismissed.get_json()["labelled"] == 1
    left = [i["id"] for i in client.get("/api/v1/nlu/review", headers=AUTH).get_json()["items"]]
    assert ids["fallback"] not in left and ids["low"] not in left
    refusals = (({"intent": "no_such_intent"}, "unknown intent"),
                ({"intent": "ask_fee", "procedure": 7}, "procedure must be a code or null"),
                ({}, "body must be"), ({"intent": "ask_fee", "procedure": "9.999999"}, "unknown procedure"))
    for body, error in refusals:
        bad = client.post(f"/api/v1/nlu/review/{ids['human']}", json=body, headers=AUTH)
        assert bad.status_code == 422 and error in bad.get_json()["error"]
    assert client.post("/api/v1/nlu/review/999999", json={"dismiss": True}, headers=AUTH).status_code == 404


def test_console_needs_the_reviewer_right(app: Flask, officer: Staff, admin: Staff) -> None:
    ids = _world(app)
    assert officer.get("/staff/review").status_code == 403
    with db(app) as session:
        officer_id = session.scalars(select(StaffUser.id).where(StaffUser.username == "canbo1")).one()
    assert officer.post(f"/staff/users/{officer_id}/reviewer", data={"reviewer": "1"}).status_code == 403
    admin.post(f"/staff/users/{officer_id}/reviewer", data={"reviewer": "1"})  # an admin grants the right
    page = officer.get("/staff/review").get_data(as_text=True)
    assert "làm giấy tờ đất" in page and "Huấn luyện lại" not in page  # retraining: admins only
    assert officer.post("/staff/review/retrain").status_code == 403
    officer.post("/staff/review/label", data={"ids": [ids["unsure_procedure"]], "intent": "ask_procedure",
                                              "procedure": "1.001193 Đăng ký khai sinh", "action": "label"})
    with db(app) as session:
        example = session.scalars(select(NluExample)).one()
    assert (example.intent, example.procedure_code) == ("ask_procedure", "1.001193")
    assert "Huấn luyện lại" in admin.get("/staff/review").get_data(as_text=True)
    with db(app) as session:  # staff access to citizens' words is logged
        views = session.scalars(select(AuditLog.actor).where(AuditLog.action == "nlu.review_view")).all()
    assert views == ["staff:canbo1", "staff:quantri"]


def test_export_writes_rasa_data_without_held_out_texts(app: Flask, tmp_path: Path) -> None:
    conv = add_conversation(app, mode="bot", reason=None)
    heldout_text = load_examples(ROOT / "tests" / "nlu" / "heldout.yml")[0].text
    first = _say(app, conv, "hỏi vụ đất nhà em", confidence=0.2)
    second = _say(app, conv, heldout_text, confidence=0.2)
    out = tmp_path / "reviewed.yml"
    with db(app) as session:
        assert review.export(session, review.excluded(ROOT), out) == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["nlu"] == []  # valid Rasa data, nothing in it
    with transaction(app.extensions["motcua"].sessions) as session:
        review.label(session, [first, second], intent="ask_procedure", procedure=None, dismiss=False,
                     reviewer_id=None, intents=["ask_procedure"], procedures=set())
    with db(app) as session:
        assert review.export(session, review.excluded(ROOT), out) == 1
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["nlu"] == [{"intent": "ask_procedure", "examples": "- hỏi vụ đất nhà em\n"}]


def test_export_command_writes_the_file(app: Flask, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli import main

    conv = add_conversation(app, mode="bot", reason=None)
    message = _say(app, conv, "gọi 0912345678 hỏi vụ chuyển khẩu", confidence=0.2)
    with transaction(app.extensions["motcua"].sessions) as session:
        review.label(session, [message], intent="ask_procedure", procedure=None, dismiss=False,
                     reviewer_id=None, intents=["ask_procedure"], procedures=set())
    monkeypatch.setenv("DATABASE_URL", app.extensions["motcua"].settings.database_url)
    out = tmp_path / "reviewed.yml"
    result = CliRunner().invoke(main, ["nlu", "export-reviewed", "--out", str(out)])
    assert result.exit_code == 0 and "1 reviewed example(s)" in result.output
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["nlu"] == [
        {"intent": "ask_procedure", "examples": "- gọi <số điện thoại> hỏi vụ chuyển khẩu\n"}]
