"""The web chat page at `/`: the web channel, through the same pipeline as Zalo and Messenger.

POST a message or a file -> stored event -> worker (turn) -> outbox -> web connector marks it sent ->
the page polls `/chat/api/messages?after=<id>`. The visitor is identified by a random cookie; only its hash
is used as the conversation's user id.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from bot.messages import Attachment, Inbound
from bot.models import OutboxMessage
from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.templates import text
from connectors.base import ParsedEvent

log = logging.getLogger(__name__)

bp = Blueprint("chat", __name__)
COOKIE = "motcua_chat"
TOKEN = re.compile(r"^[0-9a-f]{32}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 2000
PAGE = 50


def _services() -> Services:
    return current_app.extensions["motcua"]  # type: ignore[no-any-return]


def _visitor() -> tuple[str, str | None]:
    """(conversation user id, new cookie token or None when the cookie was already set)."""
    token = request.cookies.get(COOKIE, "")
    fresh = None
    if not TOKEN.match(token):
        token = fresh = secrets.token_hex(16)
    return "w" + hashlib.sha256(token.encode()).hexdigest()[:32], fresh


def _respond(body: Any, status: int, fresh: str | None) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    if fresh:
        resp.set_cookie(COOKIE, fresh, max_age=180 * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return resp


def _client_id(value: object) -> str:
    return value if isinstance(value, str) and CLIENT_ID.match(value) else uuid.uuid4().hex


def _store(user_id: str, inbound: Inbound, raw: bytes) -> int:
    event = ParsedEvent(f"web:{user_id}:{inbound.message_id}", user_id, inbound, "message")
    return store_events(_services(), "web", [event], raw)


@bp.get("/")
def page() -> Response:
    _, fresh = _visitor()
    labels = {key: text(f"channels.web_{key}") for key in (
        "title", "subtitle", "placeholder", "send", "attach", "you", "bot", "staff", "typing", "hello",
        "error", "empty", "too_long", "no_file")}
    labels["file_too_large"] = text("channels.web_file_too_large",
                                    mb=_services().settings.max_upload_bytes // (1024 * 1024))
    resp = Response(render_template("chat.html", labels=labels))
    if fresh:
        resp.set_cookie(COOKIE, fresh, max_age=180 * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return resp


@bp.post("/chat/api/messages")
def post_message() -> Response:
    user_id, fresh = _visitor()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _respond({"error": text("channels.web_error")}, 400, fresh)
    body = data.get("text")
    payload = data.get("payload")
    body = body.strip() if isinstance(body, str) else ""
    payload = payload.strip()[:200] if isinstance(payload, str) and payload.strip() else None
    if not body and not payload:
        return _respond({"error": text("channels.web_empty")}, 400, fresh)
    if len(body) > MAX_TEXT:
        return _respond({"error": text("channels.web_too_long")}, 400, fresh)
    inbound = Inbound(channel="web", user_id=user_id, kind="payload" if payload else "text", text=body,
                      payload=payload, message_id=_client_id(data.get("client_id")))
    stored = _store(user_id, inbound, request.get_data())
    return _respond({"ok": True, "duplicate": not stored}, 202, fresh)


@bp.post("/chat/api/upload")
def upload() -> Response:
    user_id, fresh = _visitor()
    services = _services()
    try:
        incoming = request.files.get("file")
    except RequestEntityTooLarge:
        mb = services.settings.max_upload_bytes // (1024 * 1024)
        return _respond({"error": text("channels.web_file_too_large", mb=mb)}, 413, fresh)
    if incoming is None or not incoming.filename:
        return _respond({"error": text("channels.web_no_file")}, 400, fresh)
    key = uuid.uuid4().hex  # stored under a generated name, never the one the visitor sent
    folder = services.settings.files_dir / "web"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    try:
        incoming.save(path)
    except OSError as exc:  # disk full: refused with a reason to try again, nothing half-written kept
        path.unlink(missing_ok=True)
        log.error("web upload not stored (%s)", exc.__class__.__name__)
        return _respond({"error": text("channels.web_not_stored")}, 503, fresh)
    size = path.stat().st_size
    if size > services.settings.max_upload_bytes:
        path.unlink()
        mb = services.settings.max_upload_bytes // (1024 * 1024)
        return _respond({"error": text("channels.web_file_too_large", mb=mb)}, 413, fresh)
    kind = "image" if (incoming.mimetype or "").startswith("image/") else "file"
    base = services.settings.public_base_url.rstrip("/") or request.host_url.rstrip("/")
    attachment = Attachment(kind=kind, url=f"{base}/chat/uploads/{key}", name=incoming.filename[:200],
                            size=size)
    caption = request.form.get("text", "")[:MAX_TEXT]
    inbound = Inbound(channel="web", user_id=user_id, kind="attachment", text=caption,
                      attachments=(attachment,), message_id=_client_id(request.form.get("client_id")))
    _store(user_id, inbound, key.encode())
    return _respond({"ok": True}, 202, fresh)


@bp.get("/chat/uploads/<key>")
def uploaded_file(key: str) -> Response:
    """A web upload by its unguessable key (how the document step downloads it, like a CDN URL)."""
    if not TOKEN.match(key):
        abort(404)
    path = _services().settings.files_dir / "web" / key
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/octet-stream")


@bp.get("/chat/api/messages")
def messages() -> Response:
    """Replies sent to this visitor after message `after` (the page polls this)."""
    user_id, fresh = _visitor()
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    with _services().sessions() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.reply)
            .where(OutboxMessage.channel == "web", OutboxMessage.user_id == user_id,
                   OutboxMessage.status == "sent", OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id).limit(PAGE)
        ).all()
    return _respond({"messages": [{"id": row_id, "reply": reply} for row_id, reply in rows]}, 200, fresh)
