"""The web chat page at `/`: the web channel, through the same pipeline as Zalo and Messenger.

POST a message or a file -> stored event -> worker (turn) -> outbox -> web connector marks it sent ->
the page polls `/chat/api/messages?after=<id>`. The page load gives the visitor a random token in a signed
cookie; the API answers only that cookie (a request without it is refused, so it stores nothing and makes
no conversation), and only the token's hash is used as the conversation's user id. How often each endpoint
may be called is set in bot/limits.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request, send_file
from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from bot.address import address
from bot.agency import Agency
from bot.document import Refusal, check
from bot.messages import Attachment, Inbound
from bot.models import Conversation, OutboxMessage
from bot.numbers import query_int
from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.storable import storable
from bot.templates import text
from connectors.base import ParsedEvent
from connectors.web import save_upload, upload_path, upload_url, upload_usage
from flows.card import CardOffer, PersonField
from flows.kinds.id_card import MAX_BYTES as CARD_MAX_BYTES
from flows.loader import load_flows
from flows.steps import CONTENT_TYPES, Documents

log = logging.getLogger(__name__)

bp = Blueprint("chat", __name__)
COOKIE = "motcua_chat"
COOKIE_DAYS = 180
TOKEN = re.compile(r"^[0-9a-f]{32}$")
VISITOR = re.compile(r"^w[0-9a-f]{32}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 2000
MAX_PAYLOAD = 200
# A message body is {"text": <= 2,000 characters, "payload", "client_id"}: even with every character
# written as a \uXXXX escape that is under 13 KB. Anything larger is refused before it is read.
MAX_BODY = 16 * 1024
PAGE = 50
MB = 1024 * 1024
CARD_PHOTO = tuple(CONTENT_TYPES[kind] for kind in ("jpeg", "png", "heic"))  # what bot.idcard reads
REFUSAL_STATUS = {"too_large": 413, "unsupported_type": 415}


def _services() -> Services:
    return current_app.extensions["motcua"]  # type: ignore[no-any-return]


def _signer() -> Signer:
    return Signer(current_app.secret_key or "", salt="motcua.chat.visitor")


def _user_id(token: str) -> str:
    return "w" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _token() -> str | None:
    """The visitor's token when the cookie carries our signature; checked once per request."""
    if "chat_token" not in g:
        try:
            token = _signer().unsign(request.cookies.get(COOKIE, "")).decode()
        except BadSignature:
            token = None
        g.chat_token = token if token and TOKEN.match(token) else None
    return g.chat_token  # type: ignore[no-any-return]


def visitor() -> str | None:
    """The conversation user id of the visitor whose signed cookie the page issued; None without one."""
    token = _token()
    return _user_id(token) if token else None


def has_visitor() -> bool:
    return _token() is not None


def visitor_key() -> str:
    """Rate-limit key of a visitor (a request without the cookie is keyed by its address)."""
    return visitor() or f"anonymous:{request.remote_addr}"


def _set_cookie(resp: Response, token: str) -> None:
    resp.set_cookie(COOKIE, _signer().sign(token).decode(), max_age=COOKIE_DAYS * 86400, httponly=True,
                    samesite="Lax", secure=request.is_secure)


def _answer(body: Any, status: int) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _refuse(message: str, status: int) -> Response:
    return _answer({"error": message}, status)


def _client_id(value: object) -> str:
    return value if isinstance(value, str) and CLIENT_ID.match(value) else uuid.uuid4().hex


def _store(user_id: str, inbound: Inbound, raw: bytes) -> int:
    event = ParsedEvent(f"web:{user_id}:{inbound.message_id}", user_id, inbound, "message")
    return store_events(_services(), "web", [event], raw)


@bp.get("/")
def page() -> Response:
    """The chat page; a visitor without a valid cookie gets a new token (nothing is stored yet)."""
    agency = Agency.load()  # the page names the centre and calls visitors by its form of address
    keys = ("title", "subtitle", "placeholder", "send", "attach", "you", "bot", "staff", "typing", "hello",
            "error", "empty", "too_long", "no_file")
    labels = {key: address(text(f"channels.web_{key}", agency=agency.name), agency.address_form)
              for key in keys}
    labels["file_too_large"] = text("channels.web_file_too_large",
                                    mb=_services().settings.max_upload_bytes // MB)
    resp = Response(render_template("chat.html", labels=labels))
    if not has_visitor():
        legacy = request.cookies.get(COOKIE, "")  # an unsigned cookie of the earlier pages keeps its chat
        _set_cookie(resp, legacy if TOKEN.match(legacy) else secrets.token_hex(16))
    return resp


@bp.post("/chat/api/messages")
def post_message() -> Response:
    """One message or button press; only the fields the bot uses are kept, never the raw body."""
    user_id = visitor()
    if user_id is None:
        return _refuse(text("channels.web_session_expired"), 401)
    if (request.content_length or 0) > MAX_BODY:
        return _refuse(text("channels.web_body_too_large"), 413)
    request.max_content_length = MAX_BODY  # also cuts off a body sent without a length
    try:
        data = request.get_json(silent=True)
    except RequestEntityTooLarge:
        return _refuse(text("channels.web_body_too_large"), 413)
    if not isinstance(data, dict):
        return _refuse(text("channels.web_error"), 400)
    data = storable(data)  # NUL and lone surrogates (JSON escapes) would fail the insert
    body = data.get("text")
    payload = data.get("payload")
    body = body.strip() if isinstance(body, str) else ""
    payload = payload.strip()[:MAX_PAYLOAD] if isinstance(payload, str) and payload.strip() else None
    if not body and not payload:
        return _refuse(text("channels.web_empty"), 400)
    if len(body) > MAX_TEXT:
        return _refuse(text("channels.web_too_long"), 400)
    inbound = Inbound(channel="web", user_id=user_id, kind="payload" if payload else "text", text=body,
                      payload=payload, message_id=_client_id(data.get("client_id")))
    kept = {"text": body, "payload": payload, "client_id": inbound.message_id}
    stored = _store(user_id, inbound, json.dumps(kept, ensure_ascii=False).encode())
    return _answer({"ok": True, "duplicate": not stored}, 202)


def waiting_upload(user_id: str) -> tuple[tuple[str, ...], int] | None:
    """What a file is accepted for now: (content types, max MB) of the step the visitor's conversation
    waits at, if it takes a file. A document step takes its own types; the ID-card offer and a person's
    card questions take a photo of the card (read, then deleted unless the flow keeps it as a copy of the
card: flows.kinds.id_card). The
    engine keeps the active flow and step in `conversation.state["active"]` (flows.context.Context)."""
    services = _services()
    with services.sessions() as session:
        state = session.scalar(select(Conversation.state).where(
            Conversation.channel == "web", Conversation.user_id == user_id))
    active = (state or {}).get("active")
    if not isinstance(active, dict) or not active.get("step"):
        return None
    flow = load_flows(str(services.settings.data_dir / "flows")).get(active.get("flow", ""))
    try:
        step = flow.step(active["step"]) if flow is not None else None
    except KeyError:
        return None
    if step is None or not step.applies(active.get("slots") or {}):
        return None
    if isinstance(step, Documents):
        return step.content_types, step.max_mb
    if isinstance(step, CardOffer | PersonField):
        return CARD_PHOTO, CARD_MAX_BYTES // MB
    return None


@bp.post("/chat/api/upload")
def upload() -> Response:
    """A document photo or PDF, accepted only while a document step waits for one: checked by its bytes
    against the step's types and size, within the conversation's quota, then handed to the pipeline."""
    user_id = visitor()
    if user_id is None:
        return _refuse(text("channels.web_session_expired"), 401)
    settings = _services().settings
    waiting = waiting_upload(user_id)  # before the body is read
    if waiting is None:
        return _refuse(text("channels.web_upload_not_expected"), 409)
    accept, max_mb = waiting
    try:
        incoming = request.files.get("file")
    except RequestEntityTooLarge:
        return _refuse(Refusal("too_large", max_mb=settings.max_upload_bytes // MB).message(), 413)
    if incoming is None or not incoming.filename:
        return _refuse(text("channels.web_no_file"), 400)
    data = incoming.read(settings.max_upload_bytes + 1)
    try:
        content_type = check(data, settings, accept=accept, max_bytes=max_mb * MB)
    except Refusal as refusal:
        return _refuse(refusal.message(), REFUSAL_STATUS.get(refusal.reason, 400))
    files, used = upload_usage(settings, user_id)
    if files >= settings.chat_upload_quota_files or used + len(data) > settings.chat_upload_quota_mb * MB:
        return _refuse(text("channels.web_upload_quota", files=settings.chat_upload_quota_files,
                            mb=settings.chat_upload_quota_mb), 403)
    try:
        key = save_upload(settings, user_id, data)
    except OSError as exc:  # disk full: refused with a reason to try again, nothing half-written kept
        log.error("web upload not stored (%s)", exc.__class__.__name__)
        return _refuse(text("channels.web_not_stored"), 503)
    attachment = Attachment(kind="image" if content_type.startswith("image/") else "file",
                            url=upload_url(settings.public_base_url, user_id, key),
                            name=incoming.filename[:200], size=len(data))
    caption = request.form.get("text", "")[:MAX_TEXT]
    inbound = Inbound(channel="web", user_id=user_id, kind="attachment", text=caption,
                      attachments=(attachment,), message_id=_client_id(request.form.get("client_id")))
    _store(user_id, inbound, key.encode())
    return _answer({"ok": True}, 202)


@bp.get("/chat/uploads/<key>")
@bp.get("/chat/uploads/<owner>/<key>")
def uploaded_file(key: str, owner: str | None = None) -> Response:
    """A web upload by its unguessable key (how officers open it from the transcript)."""
    if not TOKEN.match(key) or (owner is not None and not VISITOR.match(owner)):
        abort(404)
    path = upload_path(_services().settings, owner, key)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/octet-stream")


@bp.get("/chat/api/messages")
def messages() -> Response:
    """Replies sent to this visitor after message `after` (the page polls this)."""
    user_id = visitor()
    if user_id is None:
        return _refuse(text("channels.web_session_expired"), 401)
    try:
        after_id = query_int(request.args, "after", 0)
    except BadRequest as exc:
        return _refuse(str(exc.description), 400)
    with _services().sessions() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.reply)
            .where(OutboxMessage.channel == "web", OutboxMessage.user_id == user_id,
                   OutboxMessage.status == "sent", OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id).limit(PAGE)
        ).all()
    return _answer({"messages": [{"id": row_id, "reply": reply} for row_id, reply in rows]}, 200)
