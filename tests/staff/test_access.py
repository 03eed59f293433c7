"""Every /staff and /api route refuses anonymous callers and forged CSRF tokens; roles are enforced.

Routes are enumerated from `app.url_map`, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.routing import Rule

from bot.app import create_app
from bot.config import Settings
from bot.models import AuditLog, Conversation, StaffUser

from .conftest import API_TOKEN, PASSWORD, Staff, add_conversation, add_dossier, csrf_of, db

PUBLIC = {"staff.login"}
SAMPLE = {"int": "1", "default": "x", "string": "x", "path": "x"}


def _url(rule: Rule) -> str:
    """The rule's path with each variable replaced by a sample value of its converter."""

    def sample(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        return SAMPLE.get(converter, "x")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", sample, rule.rule)


def _routes(app: Flask, prefix: str) -> Iterator[tuple[str, str, str]]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, _url(rule)


def test_route_enumeration_finds_the_console_and_the_api(app: Flask) -> None:
    staff = {endpoint for endpoint, _, _ in _routes(app, "/staff")}
    api = {endpoint for endpoint, _, _ in _routes(app, "/api")}
    assert {
        "staff.queue",
        "staff.claim",
        "staff.reply",
        "staff.dossier_status",
        "staff.stored_file",
        "staff.users",
        "staff.audit_log",
        "staff.outbox_retry",
    } <= staff
    assert {
        "api.list_dossiers",
        "api.get_dossier",
        "api.set_status",
        "api.openapi",
        "api.document_file",
    } <= api


def test_every_staff_route_refuses_anonymous_access(app: Flask) -> None:
    conv = add_conversation(app)
    add_dossier(app, conv, code="x")
    client = app.test_client()
    checked = 0
    for endpoint, method, url in _routes(app, "/staff"):
        if endpoint in PUBLIC:
            continue
        resp = client.open(url, method=method)
        if resp.status_code == 302:
            assert resp.headers["Location"].startswith("/staff/login"), (endpoint, method)
        else:
            assert resp.status_code == 401, (endpoint, method, resp.status_code)
        checked += 1
    assert checked >= 20
    with db(app) as session:
        assert session.get(Conversation, conv).mode == "waiting_human"  # the anonymous claim changed nothing


def test_every_api_route_refuses_missing_and_wrong_tokens(app: Flask) -> None:
    client = app.test_client()
    routes = list(_routes(app, "/api"))
    assert len(routes) >= 5
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": f"Bearer {API_TOKEN}x"},
        {"Authorization": "Bearer "},
    ):
        for endpoint, method, url in routes:
            resp = client.open(url, method=method, headers=headers, json={"status": "processing"})
            assert resp.status_code == 401, (endpoint, method, headers)
            assert resp.is_json


def test_api_is_closed_when_no_token_is_configured(settings: Settings) -> None:
    app = create_app(Settings.load(**{**settings.__dict__, "api_token": ""}), start_workers=False)
    for header in ("Bearer ", "Bearer", ""):
        assert app.test_client().get("/api/v1/dossiers", headers={"Authorization": header}).status_code == 401
    app.extensions["motcua"].engine.dispose()


def test_every_state_changing_staff_route_refuses_forged_csrf(app: Flask, officer: Staff) -> None:
    conv = add_conversation(app)
    add_dossier(app, conv, code="x")
    posts = [(e, u) for e, m, u in _routes(app, "/staff") if m == "POST"]
    assert len(posts) >= 10
    with db(app) as session:
        before = session.query(AuditLog).count()
    for forged in (None, "", "forged-token", officer.token[:-2] + "xx"):
        for endpoint, url in posts:
            data = {"csrf_token": forged} if forged is not None else {}
            resp = officer.client.post(url, data={**data, "status": "processing", "text": "x"})
            assert resp.status_code == 400, (endpoint, forged, resp.status_code)
            resp = officer.client.post(url, headers={"X-CSRF-Token": forged or "nope"})
            assert resp.status_code == 400, (endpoint, forged)
    with db(app) as session:
        assert session.get(Conversation, conv).mode == "waiting_human"
        assert session.query(AuditLog).count() == before


def test_login_form_itself_needs_the_csrf_token(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("canbo2")
    client = app.test_client()
    resp = client.post(
        "/staff/login", data={"username": "canbo2", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert resp.status_code == 400
    token = csrf_of(client)
    resp = client.post("/staff/login", data={"username": "canbo2", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302


def test_officer_cannot_use_admin_pages(app: Flask, officer: Staff) -> None:
    assert officer.get("/staff/audit").status_code == 403
    assert officer.get("/staff/users").status_code == 403
    assert (
        officer.post("/staff/users", {"username": "moi", "password": PASSWORD, "role": "admin"}).status_code
        == 403
    )
    with db(app) as session:
        assert session.query(StaffUser).filter_by(username="moi").count() == 0


def test_admin_can_use_admin_pages(admin: Staff) -> None:
    assert admin.get("/staff/audit").status_code == 200
    assert admin.get("/staff/users").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example/x", "/elsewhere", "/staff\\@evil"]
)
def test_login_never_redirects_off_the_console(app: Flask, make_user, target: str) -> None:  # type: ignore[no-untyped-def]
    make_user("canbo3")
    client = app.test_client()
    token = csrf_of(client)
    resp = client.post(
        "/staff/login", data={"username": "canbo3", "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/staff/"
