"""Abuse limits and hostile input on the public endpoints: web chat, uploads, webhooks, staff login."""

from __future__ import annotations

import io
import json
import secrets
import struct
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.config import Settings
from bot.models import Conversation, InboundEvent
from bot.templates import text

from .conftest import ScriptedDialogue, zalo_body, zalo_headers
from .test_web_chat import at_document_step, visitor_of


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """These tests run a scripted dialogue (injected into their services; see conftest.ScriptedDialogue)."""
    return ScriptedDialogue()

LIMITED = text("channels.web_rate_limited")
# The smallest PNG header the checks read: signature and an IHDR of 400 x 400 pixels.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 400, 400) + b"\x08\x02\x00\x00\x00"


def _app(make_app: Callable[[Settings], Flask], settings: Settings, **limits: Any) -> Flask:
    """An app whose limits are `limits`; the others stay at their defaults. Windows are a day long so
    that a test never straddles a window boundary."""
    return make_app(Settings(**{**settings.__dict__, **limits}))


def _visitor(app: Flask, ip: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    assert client.get("/").status_code == 200
    return client


def _say(client: FlaskClient, words: str = "Cho em hỏi thủ tục") -> Any:
    return client.post("/chat/api/messages", json={"text": words})


def _count(app: Flask, model: type) -> int:
    with app.extensions["motcua"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _upload(client: FlaskClient, data: bytes, name: str, mimetype: str) -> Any:
    return client.post("/chat/api/upload", data={"file": (io.BytesIO(data), name, mimetype)},
                       content_type="multipart/form-data")


def _web_files(settings: Settings) -> list[str]:
    folder = settings.files_dir / "web"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_429_after_the_per_visitor_limit(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    app = _app(make_app, settings, rate_limit_chat_visitor="3/day")
    first, second = _visitor(app), _visitor(app)
    assert [_say(first).status_code for _ in range(3)] == [202, 202, 202]
    refused = _say(first)
    assert refused.status_code == 429 and refused.get_json() == {"error": LIMITED}
    assert "Retry-After" in refused.headers
    assert _say(second).status_code == 202  # another visitor on the same address is not affected
    assert _count(app, InboundEvent) == 4


def test_429_after_the_per_ip_limit(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    app = _app(make_app, settings, rate_limit_chat_ip="4/day")
    office = [_visitor(app, "10.0.0.1"), _visitor(app, "10.0.0.1")]
    assert [_say(c).status_code for c in office * 2] == [202] * 4
    assert {_say(c).status_code for c in office} == {429}
    assert _say(_visitor(app, "10.0.0.2")).status_code == 202


def test_429_after_the_global_limit(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    app = _app(make_app, settings, rate_limit_chat_global="5/day")
    visitors = [_visitor(app, f"10.0.1.{n}") for n in range(5)]
    assert [_say(c).status_code for c in visitors] == [202] * 5
    late = _say(_visitor(app, "10.0.1.99"))
    assert late.status_code == 429 and late.get_json()["error"] == LIMITED


def test_uploads_share_the_chat_budget_and_have_their_own(
    make_app: Callable[[Settings], Flask], settings: Settings
) -> None:
    app = _app(make_app, settings, rate_limit_upload="2/day", rate_limit_chat_visitor="4/day")
    client = _visitor(app)
    at_document_step(app, client)
    assert [_upload(client, PNG, "a.png", "image/png").status_code for _ in range(3)] == [202, 202, 429]
    # every attempt counts against the shared budget of 4, the refused third upload too
    assert [_say(client).status_code for _ in range(2)] == [202, 429]


def test_new_visitors_per_ip_are_limited_not_returning_ones(
    make_app: Callable[[Settings], Flask], settings: Settings
) -> None:
    app = _app(make_app, settings, rate_limit_new_visitor="2/day")
    returning = _visitor(app, "10.0.2.1")
    _visitor(app, "10.0.2.1")
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.0.2.1"
    page = fresh.get("/")
    assert page.status_code == 429 and text("channels.web_page_rate_limited") in page.get_data(as_text=True)
    assert "motcua_chat" not in page.headers.get("Set-Cookie", "")
    assert returning.get("/").status_code == 200  # a visitor with a cookie is never counted as new


def test_polling_has_its_own_limit(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    app = _app(make_app, settings, rate_limit_chat_poll="3/day")
    client = _visitor(app)
    assert [client.get("/chat/api/messages?after=0").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert _say(client).status_code == 202


def test_cookieless_or_forged_requests_store_nothing(app: Flask, settings: Settings) -> None:
    """Without the cookie the page signed, the API refuses: no event, no conversation, no file."""
    expired = text("channels.web_session_expired")
    for cookie in (None, secrets.token_hex(16), secrets.token_hex(16) + ".forged", "x" * 4000):
        client = app.test_client()
        if cookie is not None:
            client.set_cookie("motcua_chat", cookie)
        for _ in range(3):  # (all of them count against one anonymous budget of this address)
            resp = _say(client)
            assert resp.status_code == 401 and resp.get_json() == {"error": expired}
        assert _upload(client, PNG, "a.png", "image/png").status_code == 401
        assert client.get("/chat/api/messages?after=0").status_code == 401
    assert app.test_client().get("/").status_code == 200  # the page itself stores nothing either
    assert (_count(app, InboundEvent), _count(app, Conversation)) == (0, 0)
    assert _web_files(settings) == []


def test_page_signs_an_earlier_unsigned_cookie_and_keeps_its_chat(app: Flask) -> None:
    import hashlib

    token = secrets.token_hex(16)
    client = app.test_client()
    client.set_cookie("motcua_chat", token)
    assert _say(client).status_code == 401
    client.get("/")
    assert visitor_of(app, client) == "w" + hashlib.sha256(token.encode()).hexdigest()[:32]
    assert _say(client).status_code == 202


def test_oversized_message_body_is_refused_early_and_only_used_fields_are_kept(app: Flask) -> None:
    client = _visitor(app)
    big = json.dumps({"text": "xin chào", "padding": "x" * (9 * 1024 * 1024)})
    resp = client.post("/chat/api/messages", data=big, content_type="application/json")
    assert resp.status_code == 413 and resp.get_json() == {"error": text("channels.web_body_too_large")}
    assert _count(app, InboundEvent) == 0
    resp = client.post("/chat/api/messages", json={"text": " Giờ làm việc? ", "client_id": "c-00000001",
                                                   "junk": "y" * 10000, "payload": "check_status"})
    assert resp.status_code == 202
    with app.extensions["motcua"].sessions() as session:
        event = session.scalars(select(InboundEvent)).one()
    kept = {"text": "Giờ làm việc?", "payload": "check_status", "client_id": "c-00000001"}
    assert json.loads(event.raw) == kept
    assert len(event.raw) < 200


def test_upload_outside_a_document_step_is_refused(app: Flask, settings: Settings) -> None:
    client = _visitor(app)
    resp = _upload(client, PNG, "cccd.png", "image/png")
    assert resp.status_code == 409 and resp.get_json() == {"error": text("channels.web_upload_not_expected")}
    _say(client)  # a conversation exists, but it waits for no document
    from bot.pipeline import worker

    worker.drain(app.extensions["motcua"])
    assert _upload(client, PNG, "cccd.png", "image/png").status_code == 409
    assert _web_files(settings) == [] and _count(app, InboundEvent) == 1


def test_html_or_renamed_files_are_refused_by_content(app: Flask, settings: Settings) -> None:
    client = _visitor(app)
    at_document_step(app, client)
    reason = text("documents.refused_unsupported_type", types="JPEG, PNG, HEIC, PDF")
    page = b"<!doctype html><script>alert(1)</script>"
    disguises = (("trang.html", "text/html"), ("anh.jpg", "image/jpeg"), ("don.pdf", "application/pdf"))
    for name, mimetype in disguises:
        resp = _upload(client, page, name, mimetype)
        assert resp.status_code == 415 and resp.get_json() == {"error": reason}
    tiny = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 40, 40) + b"\x08\x02\x00\x00\x00"
    resp = _upload(client, tiny, "anh.png", "image/png")
    assert resp.status_code == 400 and resp.get_json() == {"error": text("documents.refused_too_small",
                                                                         min_side=settings.min_image_side)}
    assert _web_files(settings) == [] and _count(app, InboundEvent) == 0
    resp = _upload(client, PNG, "khong-co-duoi", "application/octet-stream")  # the bytes say PNG
    assert resp.status_code == 202
    with app.extensions["motcua"].sessions() as session:
        event = session.scalars(select(InboundEvent)).one()
    assert event.inbound["attachments"][0]["kind"] == "image"  # type: ignore[index]


def test_per_conversation_quota(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    app = _app(make_app, settings, chat_upload_quota_files=2, chat_upload_quota_mb=1)
    client = _visitor(app)
    at_document_step(app, client)
    full = text("channels.web_upload_quota", files=2, mb=1)
    assert [_upload(client, PNG, f"{n}.png", "image/png").status_code for n in range(2)] == [202, 202]
    third = _upload(client, PNG, "3.png", "image/png")
    assert third.status_code == 403 and third.get_json() == {"error": full}
    other = _visitor(app)  # the quota is per conversation
    at_document_step(app, other)
    pdf = b"%PDF-1.4\n" + b"0" * (600 * 1024)
    assert _upload(other, pdf, "a.pdf", "application/pdf").status_code == 202
    over = _upload(other, pdf, "b.pdf", "application/pdf")  # 1.2 MB in all
    assert over.status_code == 403 and over.get_json() == {"error": full}
    assert len(_web_files(settings)) == 3


@pytest.mark.parametrize("base", ["", "https://motcua.xa.gov.vn/"])
def test_officer_link_never_comes_from_the_host_header(
    make_app: Callable[[Settings], Flask], settings: Settings, base: str
) -> None:
    app = _app(make_app, settings, public_base_url=base)
    client = _visitor(app)
    user_id = at_document_step(app, client)
    cookie = client.get_cookie("motcua_chat").value  # type: ignore[union-attr]
    hostile = {"Host": "attacker.example", "Cookie": f"motcua_chat={cookie}"}
    resp = app.test_client(use_cookies=False).post(
        "/chat/api/upload", headers=hostile, content_type="multipart/form-data",
        data={"file": (io.BytesIO(PNG), "a.png", "image/png")})
    assert resp.status_code == 202
    with app.extensions["motcua"].sessions() as session:
        url = session.scalars(select(InboundEvent)).one().inbound["attachments"][0]["url"]  # type: ignore[index]
    key = url.rsplit("/", 1)[1]
    assert url == f"{base.rstrip('/')}/chat/uploads/{user_id}/{key}" and "attacker" not in url


def test_webhook_limit_is_per_channel_and_plain(
    make_app: Callable[[Settings], Flask], ch_settings: Settings
) -> None:
    app = _app(make_app, ch_settings, rate_limit_webhook="3/day")
    client = app.test_client()
    codes = []
    for n in range(4):
        body = zalo_body(msg_id=f"m{n}")
        codes.append(client.post("/webhooks/zalo", data=body, headers=zalo_headers(body)))
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[3].content_type.startswith("text/plain") and codes[3].headers["Retry-After"] == "1"
    assert _count(app, InboundEvent) == 3
    # Messenger has its own budget: an unsigned request still reaches the signature check (401)
    assert client.post("/webhooks/facebook", data=b"{}").status_code == 401


def test_default_webhook_limit_lets_a_burst_of_platform_traffic_through(ch_app: Flask) -> None:
    """The benchmark rate (200/s plus retries) arrives well inside the default per-channel limit."""
    client = ch_app.test_client()
    statuses = set()
    for n in range(250):
        body = zalo_body(msg_id=f"b{n}")
        statuses.add(client.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code)
    assert statuses == {200}


def test_login_limit_per_ip(make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    from tests.staff.conftest import csrf_of

    app = _app(make_app, settings, rate_limit_login="3/day")
    client = app.test_client()
    token = csrf_of(client)
    form = {"username": "khong-co", "password": "sai-mat-khau", "csrf_token": token}
    codes = [client.post("/staff/login", data=form).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    page = client.post("/staff/login", data=form)
    assert page.status_code == 429 and page.content_type.startswith("text/html")
    assert text("channels.login_rate_limited") in page.get_data(as_text=True)
    assert client.get("/staff/login").status_code == 200  # the form itself still opens
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.3.1"
    assert other.post("/staff/login", data={**form, "csrf_token": csrf_of(other)}).status_code == 401


def test_limits_are_shared_through_redis_across_processes(
    make_app: Callable[[Settings], Flask], settings: Settings
) -> None:
    """Two apps stand for two serving processes: with a Redis storage they count together."""
    redis = pytest.importorskip("redis")
    uri = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(uri, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    one = _app(make_app, settings, rate_limit_storage_uri=uri, rate_limit_chat_visitor="3/day")
    two = _app(make_app, settings, rate_limit_storage_uri=uri, rate_limit_chat_visitor="3/day")
    first = _visitor(one)
    second = two.test_client()
    second.set_cookie("motcua_chat", first.get_cookie("motcua_chat").value)  # type: ignore[union-attr]
    assert [_say(c).status_code for c in (first, second, first, second)] == [202, 202, 202, 429]


def test_unreachable_storage_lets_requests_through(
    make_app: Callable[[Settings], Flask], settings: Settings
) -> None:
    """A limit storage that does not answer falls back to counting in memory, never a 500."""
    app = _app(make_app, settings, rate_limit_storage_uri="redis://127.0.0.1:1/0",
               rate_limit_chat_visitor="2/day")
    client = _visitor(app)
    assert [_say(client).status_code for _ in range(3)] == [202, 202, 429]


def test_a_limit_that_does_not_parse_stops_the_start(settings: Settings) -> None:
    from bot.limits import check_settings

    with pytest.raises(ValueError, match="RATE_LIMIT_LOGIN"):
        check_settings(Settings(**{**settings.__dict__, "rate_limit_login": "ten per minute"}))
