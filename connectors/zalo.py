"""Zalo Official Account: signed webhooks in, OpenAPI v3 customer-service messages out (channels.md §1)."""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bot.config import Settings
from bot.messages import Attachment, Inbound, Reply
from connectors.base import (
    HTTP_TIMEOUT,
    Connector,
    MalformedEvent,
    Message,
    ParsedEvent,
    SendError,
    Target,
    WebhookRequest,
    constant_time_equal,
)
from connectors.fields import obj, seq, string, whole
from connectors.http import PlatformSession, retry_after
from connectors.zalo_token import ZaloTokens

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # longer texts get error -210 (§1.5)
MAX_BUTTONS = 5
UPLOAD_LIMIT = 5 * 1024 * 1024  # upload/file and upload/gif accept up to 5 MB (§1.9)
BUTTON_TITLE = 100
# Our button payloads travel back as the text of a `user_send_text` event ([U] §1.3: a tap on an
# oa.query.hide button "sends the payload string as a message from the user"); the prefix tells them apart
# from anything a citizen could type.
PAYLOAD_PREFIX = "#mc:"

ATTACHMENT_EVENTS = {"image", "file", "audio", "video", "gif", "sticker", "link", "location"}
AUTH_ERRORS = {-216, 216, -220, 401, -401}
TRANSIENT_ERRORS = {-32, -100}
WINDOW_ERRORS = {-213, -217, -227, -230, -232, -234, -244}


def signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    """sha256(app_id + raw body + timestamp + OA secret key), plain hash, not HMAC (§1.4 [S])."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode())
    return digest.hexdigest()


def _timestamp_seconds(raw: Any) -> float | None:
    value = whole(raw)
    if value is None:
        return None
    return value / 1000.0 if value > 1e11 else float(value)  # epoch ms in real traffic, seconds tolerated


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent("body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("event_name"), str):
        raise MalformedEvent("not a Zalo event")
    return data


class ZaloConnector(Connector):
    name = "zalo"
    max_text = MAX_TEXT

    def __init__(self, services: Services, http: PlatformSession | None = None) -> None:
        super().__init__(services)
        self.tokens = ZaloTokens(services, http)
        self.clock = time.time

    @classmethod
    def missing_settings(cls, settings: Settings) -> list[str]:
        needed = {"ZALO_APP_ID": settings.zalo_app_id,
                  "ZALO_OA_SECRET_KEY": settings.zalo_oa_secret_key,
                  "ZALO_APP_SECRET": settings.zalo_app_secret,
                  "ZALO_REFRESH_TOKEN": settings.zalo_refresh_token}
        return [name for name, value in needed.items() if not value]

    # ---- webhook side ------------------------------------------------------------------------------

    def verify(self, request: WebhookRequest) -> bool:
        header = (request.header("X-ZEvent-Signature") or "").strip()
        if not header:
            return False
        try:
            data = _load(request.body)
        except MalformedEvent:
            return False
        raw_ts = string(data.get("timestamp"))
        sent_at = _timestamp_seconds(raw_ts)
        if sent_at is None:
            return False
        max_age = self.settings.zalo_webhook_max_age
        if max_age and abs(self.clock() - sent_at) > max_age:
            log.warning("zalo webhook rejected: stale timestamp")
            return False
        settings = self.settings
        expected = signature(settings.zalo_app_id, request.body, raw_ts, settings.zalo_oa_secret_key)
        given = header[4:] if header.startswith("mac=") else header
        return constant_time_equal(given.lower(), expected)

    def parse(self, request: WebhookRequest) -> list[ParsedEvent]:
        data = _load(request.body)
        name: str = data["event_name"]
        timestamp = string(data.get("timestamp"))
        message = obj(data.get("message"))
        sender = string(obj(data.get("sender")).get("id"))
        recipient = string(obj(data.get("recipient")).get("id"))
        msg_id = string(message.get("msg_id"))
        ts_ms = whole(timestamp)

        if name in ("follow", "unfollow"):
            user = string(obj(data.get("follower")).get("id"))
            if not user:
                raise MalformedEvent("follow without follower")
            inbound = Inbound(channel=self.name, user_id=user, kind=name, timestamp_ms=ts_ms)  # type: ignore[arg-type]
            kind = "message" if name == "follow" else "unfollow"
            return [ParsedEvent(f"{name}:{user}:{timestamp}", user, inbound, kind)]
        if name in ("user_received_message", "user_seen_message"):
            ids = [string(i) for i in seq(message.get("msg_ids"))] or [msg_id]  # msg_ids[] is [U] (§1.2)
            return [ParsedEvent(f"{name}:{recipient}:{timestamp}", recipient, None, "receipt",
                                {"event": name, "message_ids": [i for i in ids if i], "at_ms": ts_ms})]
        if name.startswith("oa_send_"):
            # Echo of an OA-side send: ours (the worker matches the id) or typed by staff in the OA admin.
            return [ParsedEvent(f"oa:{msg_id or timestamp}", recipient, None, "echo",
                                {"message_id": msg_id, "text": string(message.get("text")), "event": name})]
        if name.startswith(("user_send_", "anonymous_send_")):
            user = sender
            if not user:
                raise MalformedEvent("message without sender")
            if name.startswith("anonymous_send_"):
                # [U] replies to a not-yet-follower need anonymous_id + conversation_id on /v2.0/oa/message.
                conversation = string(message.get("conversation_id") or data.get("conversation_id"))
                user = f"anon:{sender}:{conversation}"
            inbound = self._inbound(name.split("_send_", 1)[1], user, message, msg_id, ts_ms)
            if inbound is None:
                return [ParsedEvent(f"msg:{msg_id or timestamp}", user, None, "ignored", {"event": name})]
            return [ParsedEvent(f"msg:{msg_id or user + ':' + timestamp}", user, inbound, "message")]
        log.info("zalo event %s acknowledged and ignored", name)
        return []

    def _inbound(self, what: str, user: str, message: dict[str, Any], msg_id: str,
                 ts_ms: int | None) -> Inbound | None:
        said = string(message.get("text"))
        common: dict[str, Any] = {"channel": self.name, "user_id": user, "message_id": msg_id or None,
                                  "timestamp_ms": ts_ms}
        if what == "text":
            if said.startswith(PAYLOAD_PREFIX):
                return Inbound(kind="payload", payload=said[len(PAYLOAD_PREFIX):], **common)
            return Inbound(kind="text", text=said, **common)
        if what not in ATTACHMENT_EVENTS:
            return None  # business cards and other kinds the bot cannot use
        payload = obj(obj((seq(message.get("attachments")) or [{}])[0]).get("payload"))
        if what == "location":
            coords = obj(payload.get("coordinates"))
            where = f"{string(coords.get('latitude'))},{string(coords.get('longitude'))}"
            return Inbound(kind="location", text=where, **common)
        url = string(payload.get("url"))
        if what == "link":
            return Inbound(kind="text", text=" ".join(filter(None, [said, url])), **common)
        if what == "sticker":
            return Inbound(kind="sticker", text=said, **common)
        if not url:
            return None
        attachment = Attachment(
            kind="image" if what in ("image", "gif") else what,
            url=url,
            name=string(payload.get("name")) or None,
            size=whole(payload.get("size")),  # a string in some samples, a number in others
        )
        return Inbound(kind="attachment", text=said, attachments=(attachment,), **common)

    # ---- sending side ------------------------------------------------------------------------------

    def _recipient(self, target: Target) -> dict[str, str]:
        user = target.user_id
        if user.startswith("anon:"):
            _, anonymous_id, conversation = user.split(":", 2)
            return {"anonymous_id": anonymous_id, "conversation_id": conversation}
        if target.mode == "reply" and target.message_id:
            return {"message_id": target.message_id}  # free reply quota (§1.6 [C])
        return {"user_id": user}

    def render(self, reply: Reply, target: Target | None = None) -> list[Message]:
        """Message bodies (without recipient) for one reply, in sending order."""
        if target is not None and target.mode == "transaction":
            return [self._transaction(reply)]
        return super().render(reply, target)

    def media(self, reply: Reply, target: Target | None) -> list[Message] | None:
        url = reply.url or ""
        if reply.kind == "image":
            element: Message = {"media_type": "image"}
            element.update({"attachment_id": url[len("attachment:"):]} if url.startswith("attachment:")
                           else {"url": url})
            media = {"type": "template", "payload": {"template_type": "media", "elements": [element]}}
            message: Message = {"attachment": media}
            if reply.text:
                message["text"] = reply.text[:MAX_TEXT]
            return [message]
        parts: list[Message] = [{"text": reply.text[:MAX_TEXT]}] if reply.text else []
        parts.append({"attachment": {"type": "file", "payload": {"token": url}}})
        return parts

    @classmethod
    def shows_buttons(cls, reply: Reply) -> bool:
        return (any(b.payload or b.url for b in reply.buttons) and len(reply.buttons) <= MAX_BUTTONS
                and len(reply.text) <= MAX_TEXT)

    def buttons(self, reply: Reply, target: Target | None) -> list[Message]:
        rendered = [
            {"title": b.title[:BUTTON_TITLE], "type": "oa.open.url", "payload": {"url": b.url}} if b.url
            else {"title": b.title[:BUTTON_TITLE], "type": "oa.query.hide",
                  "payload": f"{PAYLOAD_PREFIX}{b.payload}"}
            for b in reply.buttons
        ]
        return [{"text": reply.text, "attachment": {"type": "template", "payload": {"buttons": rendered}}}]

    def _transaction(self, reply: Reply) -> Message:
        """A transaction message (§1.6 [S]); header and one text block within the documented limits."""
        header, _, rest = (reply.text or "").partition("\n")
        elements: list[Message] = [{"type": "header", "content": header[:100], "align": "left"}]
        if rest.strip():
            elements.append({"type": "text", "align": "left", "content": rest.strip()[:250]})
        payload: Message = {"template_type": "transaction_account", "language": "VI", "elements": elements}
        links = [b for b in reply.buttons if b.url][:4]
        if links:
            payload["buttons"] = [{"title": b.title[:35], "image_icon": "", "type": "oa.open.url",
                                   "payload": {"url": b.url}} for b in links]
        return {"attachment": {"type": "template", "payload": payload}}

    def send(self, reply: Reply, target: Target, http: PlatformSession) -> list[str]:
        url = reply.url or ""
        # A file goes out as an upload token; an image by its public URL, or uploaded when it is local.
        if (reply.kind == "file" and url) or (reply.kind == "image" and url and not url.startswith(
                ("http://", "https://", "attachment:"))):
            reply = self._upload(reply, http)
        return super().send(reply, target, http)

    def post(self, message: Message, target: Target, http: PlatformSession) -> str:
        path = "/v3.0/oa/message/transaction" if target.mode == "transaction" else "/v3.0/oa/message/cs"
        if target.user_id.startswith("anon:"):
            path = "/v2.0/oa/message"  # [U] anonymous users are answered through the v2 endpoint (§1.3)
        data = self._call(http, path, json_body={"recipient": self._recipient(target), "message": message})
        return str((data.get("data") or {}).get("message_id") or "")

    def _content(self, reply: Reply, client: PlatformSession) -> tuple[str, bytes]:
        """The bytes to upload: a file under FILES_DIR, or one fetched from its URL (size-capped)."""
        url = reply.url or ""
        limit = UPLOAD_LIMIT
        if url.startswith(("http://", "https://")):
            try:
                with client.get(url, stream=True, timeout=HTTP_TIMEOUT) as resp:
                    if resp.status_code >= 500:
                        raise SendError("transient", f"fetch_{resp.status_code}", "file server error")
                    if not resp.ok:
                        raise SendError("permanent", f"fetch_{resp.status_code}", "file not found")
                    data = b""
                    for chunk in resp.iter_content(65536):
                        data += chunk
                        if len(data) > limit:
                            raise SendError("permanent", "-210", "file larger than Zalo accepts")
            except requests.RequestException as exc:
                raise SendError("transient", "fetch", exc.__class__.__name__) from exc
            return reply.name or Path(url.split("?", 1)[0]).name or "file", data
        path = Path(url)
        base = self.settings.files_dir.resolve()
        if not path.is_absolute():
            path = base / path
        if not path.resolve().is_relative_to(base) or not path.is_file():
            raise SendError("permanent", "file_missing", "file to send is not in FILES_DIR")
        if path.stat().st_size > limit:
            raise SendError("permanent", "-210", "file larger than Zalo accepts")
        return reply.name or path.name, path.read_bytes()

    def _upload(self, reply: Reply, client: PlatformSession) -> Reply:
        """Through the upload endpoints (§1.9): image -> attachment_id, file (PDF/DOC/DOCX) -> token."""
        name, data = self._content(reply, client)
        kind = "image" if reply.kind == "image" else "file"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        answer = self._call(client, f"/v2.0/oa/upload/{kind}", files={"file": (name, data, mime)})
        got = answer.get("data") or {}
        ref = f"attachment:{got.get('attachment_id') or ''}" if kind == "image" else str(got.get("token", ""))
        if ref in ("", "attachment:"):
            raise SendError("permanent", "upload", "upload answered without an id")
        return Reply(kind=reply.kind, text=reply.text, url=ref, name=reply.name, author=reply.author)

    def _call(self, client: PlatformSession, path: str, *, json_body: dict[str, Any] | None = None,
              files: dict[str, Any] | None = None) -> dict[str, Any]:
        """One OpenAPI call; on an invalid/expired token, refresh once and retry once."""
        token = self.tokens.current()
        for attempt in (1, 2):
            try:
                url, headers = f"{self.settings.zalo_api_base}{path}", {"access_token": token}
                resp = (client.post(url, files=files, headers=headers, timeout=HTTP_TIMEOUT) if files
                        else client.post_json(url, json_body, headers=headers, timeout=HTTP_TIMEOUT))
            except requests.RequestException as exc:
                raise SendError("transient", "network", exc.__class__.__name__) from exc
            if resp.status_code >= 500 or resp.status_code == 429:
                raise SendError("transient", f"http_{resp.status_code}", "Zalo server error",
                                retry_after(resp))
            try:
                data = resp.json()
                code = int(data.get("error", 0))
            except (ValueError, TypeError, AttributeError) as exc:
                raise SendError("transient", "bad_answer", "answer is not JSON") from exc
            if code == 0:  # API errors come with HTTP 200; only `error` tells (§1.5)
                return data  # type: ignore[no-any-return]
            message = str(data.get("message") or "")[:200]
            if code in AUTH_ERRORS and attempt == 1:
                log.info("zalo token rejected (error %s), refreshing", code)
                token = self.tokens.refresh(token)
                continue
            if code in TRANSIENT_ERRORS:
                raise SendError("transient", str(code), message)
            if code in WINDOW_ERRORS:
                raise SendError("window", str(code), message)
            if code in AUTH_ERRORS:
                raise SendError("auth", str(code), message)
            raise SendError("permanent", str(code), message)
        raise SendError("auth", "token", "token still rejected after refresh")

