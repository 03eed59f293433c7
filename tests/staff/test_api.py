"""Integration API: 401 / 404 / 422 / 200, the same effect and notification as the console, OpenAPI."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction, utcnow
from bot.messages import Reply
from bot.models import AuditLog, Dossier, DossierDocument, OutboxMessage
from bot.models.dossier import STATUSES

from .conftest import API_TOKEN, add_conversation, add_document, add_dossier, add_file, db

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def api(client: FlaskClient, method: str, url: str, **kw):  # type: ignore[no-untyped-def]
    return client.open(f"/api/v1{url}", method=method, headers=AUTH, **kw)


def test_list_with_status_and_since_filters(app: Flask, client: FlaskClient) -> None:
    conv = add_conversation(app, mode="bot", reason=None)
    add_dossier(app, conv, code="A-1")
    add_dossier(app, conv, code="A-2", status="processing")
    with transaction(app.extensions["motcua"].sessions) as session:
        old = session.scalars(select(Dossier).where(Dossier.code == "A-1")).one()
        old.updated_at = utcnow() - timedelta(days=3)
    body = api(client, "GET", "/dossiers").get_json()
    assert body["count"] == 2
    assert [d["code"] for d in body["dossiers"]] == ["A-1", "A-2"]  # oldest change first
    assert body["dossiers"][0]["status_label"] == "Đã tiếp nhận"
    assert [d["code"] for d in api(client, "GET", "/dossiers?status=processing").get_json()["dossiers"]] == [
        "A-2"
    ]
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    assert [d["code"] for d in api(client, "GET", f"/dossiers?since={since}").get_json()["dossiers"]] == [
        "A-2"
    ]
    moment = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [d["code"] for d in api(client, "GET", f"/dossiers?since={moment}").get_json()["dossiers"]] == [
        "A-2"
    ]
    assert api(client, "GET", "/dossiers?limit=1").get_json()["count"] == 1


def test_invalid_query_parameters_are_422(client: FlaskClient) -> None:
    for query in ("status=done", "since=yesterday", "since=2026-13-01", "limit=0", "limit=abc", "limit=501"):
        resp = api(client, "GET", f"/dossiers?{query}")
        assert resp.status_code == 422, query
        assert "error" in resp.get_json()


def test_detail_has_applicant_documents_links_and_history(app: Flask, client: FlaskClient) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None))
    add_document(app, code, "Tờ khai", "0123456789abcdef.pdf", b"%PDF-1.4 test", "application/pdf")
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.scalars(select(Dossier)).one()
        session.add(DossierDocument(dossier_id=dossier.id, item="Giấy xác nhận", not_applicable=True))
    body = api(client, "GET", f"/dossiers/{code}").get_json()
    assert (
        body["code"] == code
        and body["applicant"]["cccd"] == "001203012345"
        and body["phone"] == "+84912345678"
    )
    assert body["applicant"] == {"ho_ten": "Nguyễn Văn An", "cccd": "001203012345"}  # no "_" bookkeeping keys
    assert body["applicant_labels"]["cccd"] == "Số định danh cá nhân"
    assert [h["status"] for h in body["history"]] == ["received"]
    doc, na = body["documents"]
    assert (
        doc["url"].endswith("/api/v1/files/0123456789abcdef.pdf")
        and na["url"] is None
        and na["not_applicable"]
    )
    path = doc["url"].split("localhost", 1)[1]
    download = client.get(path, headers=AUTH)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 test"
    assert client.get(path).status_code == 401
    assert api(client, "GET", "/files/nope.pdf").status_code == 404
    with db(app) as session:
        entries = [(e.actor, e.action) for e in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert entries == [("api", "dossier.view"), ("api", "file.download")]


def test_files_not_attached_to_a_dossier_are_not_served(app: Flask, client: FlaskClient) -> None:
    add_file(app, "staffsentfile1.png", b"\x89PNG\r\n\x1a\n", "image/png")
    assert api(client, "GET", "/files/staffsentfile1.png").status_code == 404


def test_unknown_code_is_404(client: FlaskClient) -> None:
    assert api(client, "GET", "/dossiers/KHONG-CO").status_code == 404
    assert api(client, "POST", "/dossiers/KHONG-CO/status", json={"status": "processing"}).status_code == 404
    assert api(client, "GET", "/khong-co").status_code == 404
    assert api(client, "GET", "/khong-co").is_json


def test_status_change_has_the_console_effect(app: Flask, client: FlaskClient) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None))
    resp = api(
        client, "POST", f"/dossiers/{code}/status", json={"status": "processing", "note": "Đã phân công"}
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "processing" and body["history"][-1]["actor"] == "api"
    with db(app) as session:
        (sent,) = session.scalars(select(OutboxMessage)).all()
    assert sent.purpose == "notification"
    text = Reply.from_dict(sent.reply).text
    assert code in text and "Đã phân công" in text
    resp = api(
        client,
        "POST",
        f"/dossiers/{code}/status",
        json={"status": "supplement_requested", "items": ["Bản sao sổ hộ khẩu"]},
    )
    assert resp.status_code == 200 and resp.get_json()["supplement_items"] == ["Bản sao sổ hộ khẩu"]


def test_invalid_status_or_transition_is_422(app: Flask, client: FlaskClient) -> None:
    code = add_dossier(app, add_conversation(app, mode="bot", reason=None))
    for payload in (
        {"status": "returned"},  # not allowed from received
        {"status": "done"},
        {"status": "rejected"},  # needs a reason
        {"status": "supplement_requested"},  # needs items
        {"status": "processing", "note": 5},
        {"status": "supplement_requested", "items": "Bản sao"},
        {"note": "x"},
        ["processing"],
    ):
        resp = api(client, "POST", f"/dossiers/{code}/status", json=payload)
        assert resp.status_code == 422, payload
        assert resp.get_json()["error"]
    resp = api(client, "POST", f"/dossiers/{code}/status", data="not json", content_type="application/json")
    assert resp.status_code == 422
    with db(app) as session:
        assert session.scalars(select(Dossier)).one().status == "received"
        assert session.scalars(select(OutboxMessage)).all() == []


def test_openapi_document_is_served_and_matches_the_routes(app: Flask, client: FlaskClient) -> None:
    spec = api(client, "GET", "/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    served = {
        r.rule.removeprefix("/api/v1").replace("<code>", "{code}").replace("<name>", "{name}")
        .replace("<int:id>", "{id}").replace("<id>", "{id}")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1") and r.endpoint != "api.unknown"
    }
    assert documented == served
    assert spec["components"]["schemas"]["Status"]["enum"] == list(STATUSES)


def test_the_one_stop_system_accepts_with_its_code_and_reschedules(app: Flask, client: FlaskClient) -> None:
    conv = add_conversation(app, mode="bot", reason=None)
    ref = add_dossier(app, conv, code="TN-4F7K-2Q9V", status="waiting_acceptance")
    before = api(client, "GET", f"/dossiers/{ref}").get_json()
    assert (before["status"], before["official_code"], before["appointment_date"]) == (
        "waiting_acceptance", None, None)
    assert before["reference"] == ref and before["status_label"] == "Chờ tiếp nhận"
    url = f"/dossiers/{ref}/status"
    bad = api(client, "POST", url, json={"status": "received", "appointment_date": "04/12/2026"})
    assert bad.status_code == 422 and "ISO" in bad.get_json()["error"]
    bad = api(client, "POST", url, json={"status": "received", "official_code": "HS-1"})
    assert bad.status_code == 422 and "mẫu" in bad.get_json()["error"]
    day = (local_today() + timedelta(days=7)).isoformat()
    accept = {"status": "received", "official_code": "000.00.12.H62-261204-0042", "appointment_date": day}
    resp = api(client, "POST", url, json=accept)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["code"], body["reference"], body["official_code"]) == (
        "000.00.12.H62-261204-0042", ref, "000.00.12.H62-261204-0042")
    assert body["appointment_date"] == day and body["accepted_at"]
    # The official code addresses the dossier too; a reschedule needs a later date and the reason.
    later = (local_today() + timedelta(days=9)).isoformat()
    official = "/dossiers/000.00.12.H62-261204-0042/status"
    refused = api(client, "POST", official, json={"status": "late", "appointment_date": later})
    assert refused.status_code == 422 and "lý do" in refused.get_json()["error"]
    moved = api(client, "POST", official,
                json={"status": "late", "note": "Chờ xác minh", "appointment_date": later}).get_json()
    assert (moved["status"], moved["appointment_date"]) == ("late", later)
    with app.extensions["motcua"].sessions() as session:
        sent = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        texts = [Reply.from_dict(o.reply).text for o in sent]
    assert "Mã hồ sơ: 000.00.12.H62-261204-0042" in texts[0]
    assert "PHIẾU XIN LỖI" in texts[1] and date.fromisoformat(later).strftime("%d/%m/%Y") in texts[1]
