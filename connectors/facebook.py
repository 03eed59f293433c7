"""Facebook Messenger: signed, batched webhooks in, Send API out (channels.md §2)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
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
from connectors.window import RETIRED_TAGS

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

METADATA = "motcua"  # echoed back in message_echoes: marks a message as sent by this bot
MAX_TEXT = 2000
QUICK_REPLY_TITLE = 20
MAX_QUICK_REPLIES = 13
TEMPLATE_TEXT = 640
MAX_TEMPLATE_BUTTONS = 3
TRANSIENT_CODES = {1, 2, 4, 17, 32, 613, 1200}
WINDOW_SUBCODES = {2018278, 2534022}


def signature(app_secret: str, body: bytes) -> str:
    """HMAC-SHA256 over the raw bytes Meta sent (already \\u-escaped; never re-serialise) (§2.3)."""
    return hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class FacebookConnector(Connector):
    name = "facebook"
    max_text = MAX_TEXT
    has_typing = True

    def __init__(self, services: Services) -> None:
        super().__init__(services)

    @classmethod
    def missing_settings(cls, settings: Settings) -> list[str]:
        needed = {"FACEBOOK_APP_SECRET": settings.facebook_app_secret,
                  "FACEBOOK_VERIFY_TOKEN": settings.facebook_verify_token,
                  "FACEBOOK_PAGE_ACCESS_TOKEN": settings.facebook_page_access_token}
        return [name for name, value in needed.items() if not value]

    def subscription_challenge(self, args: dict[str, str]) -> str | None:
        """GET verification: the challenge to echo back, or None (-> 403)."""
        if args.get("hub.mode") != "subscribe":
            return None
        if not constant_time_equal(args.get("hub.verify_token", ""), self.settings.facebook_verify_token):
            return None
        return args.get("hub.challenge", "")

    def verify(self, request: WebhookRequest) -> bool:
        header = (request.header("X-Hub-Signature-256") or "").strip()
        if not header.startswith("sha256="):
            return False
        expected = signature(self.settings.facebook_app_secret, request.body)
        return constant_time_equal(header[7:].lower(), expected)

    # ---- webhook side ------------------------------------------------------------------------------

    def parse(self, request: WebhookRequest) -> list[ParsedEvent]:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedEvent("body is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise MalformedEvent("not a Messenger batch")
        if data.get("object") != "page":
            log.info("facebook object %s acknowledged and ignored", str(data.get("object"))[:20])
            return []
        events: list[ParsedEvent] = []
        skipped = 0
        for entry in map(obj, data["entry"]):  # several entries per batch, several events per entry (§2.2)
            batch = [(item, False) for item in seq(entry.get("messaging"))]
            batch += [(item, True) for item in seq(entry.get("standby"))]
            for item, standby in batch:
                try:  # a malformed event is skipped; the valid events of the batch are still stored
                    parsed = self._event(item)
                except MalformedEvent:
                    skipped += 1
                    continue
                except Exception as exc:  # a shape no test foresaw must not cost the batch its other events
                    log.error("facebook event unreadable (%s); skipped", type(exc).__name__)
                    skipped += 1
                    continue
                if parsed and not standby:
                    events.append(parsed)
                elif parsed and parsed.kind == "message":
                    # Another app or a person owns the thread: keep the context, stay silent (§2.6).
                    events.append(ParsedEvent("standby:" + parsed.event_id, parsed.user_id, parsed.inbound,
                                              "standby"))
        if skipped:
            log.warning("facebook batch: %d event(s) read, %d malformed skipped", len(events), skipped)
        return events

    def _event(self, item: Any) -> ParsedEvent | None:
        if not isinstance(item, dict):
            raise MalformedEvent("event is not an object")
        sender = string(obj(item.get("sender")).get("id"))
        recipient = string(obj(item.get("recipient")).get("id"))
        timestamp = string(item.get("timestamp"))
        ts_ms = whole(item.get("timestamp"))
        common: dict[str, Any] = {"channel": self.name, "user_id": sender, "timestamp_ms": ts_ms}
        if isinstance(item.get("message"), dict):
            message = item["message"]
            mid = string(message.get("mid")) or f"{sender}:{timestamp}"
            if message.get("is_echo"):
                if not recipient:
                    raise MalformedEvent("echo without recipient")
                app_id = string(message.get("app_id"))
                own = (string(message.get("metadata")).startswith(METADATA)
                       or bool(self.settings.facebook_app_id and app_id == self.settings.facebook_app_id))
                detail = {"message_id": mid, "text": string(message.get("text")), "app_id": app_id or None}
                return ParsedEvent(f"echo:{mid}", recipient, None, "echo" if own else "staff", detail)
            if not sender:
                raise MalformedEvent("message without sender")
            return ParsedEvent(f"mid:{mid}", sender, self._message(message, mid, common), "message")
        if not sender:
            raise MalformedEvent("event without sender")
        if isinstance(item.get("postback"), dict):
            postback = item["postback"]
            pb_mid = string(postback.get("mid"))
            payload = string(postback.get("payload")) or None
            inbound = Inbound(kind="payload" if payload else "text", payload=payload,
                              text=string(postback.get("title")), message_id=pb_mid or None, **common)
            return ParsedEvent(f"pb:{pb_mid or sender + ':' + timestamp}", sender, inbound, "message")
        if isinstance(item.get("read"), dict):
            watermark = whole(item["read"].get("watermark"))
            return ParsedEvent(f"read:{sender}:{watermark}", sender, None, "receipt",
                               {"event": "read", "watermark": watermark, "at_ms": ts_ms})
        if isinstance(item.get("delivery"), dict):  # [U] delivery shape (§2.2)
            delivery = item["delivery"]
            watermark = whole(delivery.get("watermark"))
            mids = [m for m in map(string, seq(delivery.get("mids"))) if m]
            return ParsedEvent(f"delivery:{sender}:{watermark}", sender, None, "receipt",
                               {"event": "delivery", "message_ids": mids, "watermark": watermark,
                                "at_ms": ts_ms})
        for action in ("pass_thread_control", "take_thread_control", "request_thread_control"):
            if isinstance(item.get(action), dict):
                owner = string(item[action].get("new_owner_app_id")) or None
                return ParsedEvent(f"{action}:{sender}:{timestamp}", sender, None, "control",
                                   {"action": action, "new_owner_app_id": owner})
        return None

    def _message(self, message: dict[str, Any], mid: str, common: dict[str, Any]) -> Inbound:
        text = string(message.get("text"))
        quick = string(obj(message.get("quick_reply")).get("payload"))
        if quick:  # a quick-reply tap: the payload counts, not the title (§2.2)
            return Inbound(kind="payload", payload=quick, text=text, message_id=mid, **common)
        attachments = []
        for att in map(obj, seq(message.get("attachments"))):
            kind = string(att.get("type"))
            payload = obj(att.get("payload"))
            url = string(payload.get("url"))
            if kind == "location":
                coords = obj(payload.get("coordinates"))
                where = f"{string(coords.get('lat'))},{string(coords.get('long'))}"
                return Inbound(kind="location", text=where, message_id=mid, **common)
            if kind == "sticker" or payload.get("sticker_id"):
                return Inbound(kind="sticker", text=text, message_id=mid, **common)
            if kind in ("image", "file", "audio", "video") and url:
                attachments.append(Attachment(kind=kind, url=url, name=string(payload.get("name")) or None))
            elif url:  # fallback (shared link), reels, posts: the address as text
                text = " ".join(filter(None, [text, url]))
        if attachments:
            return Inbound(kind="attachment", text=text, attachments=tuple(attachments), message_id=mid,
                           **common)
        return Inbound(kind="text", text=text, message_id=mid, **common)

    # ---- sending side ------------------------------------------------------------------------------

    def render(self, reply: Reply, target: Target | None = None) -> list[Message]:
        """As the base renders it, each message marked as ours (`metadata`, echoed back in message_echoes)."""
        return [dict(m, metadata=METADATA) for m in super().render(reply, target)]

    def media(self, reply: Reply, target: Target | None) -> list[Message] | None:
        if not (reply.url or "").startswith("https://"):
            return None  # the Send API fetches attachments itself, over HTTPS only
        parts: list[Message] = [{"text": reply.text[:MAX_TEXT]}] if reply.text else []
        parts.append({"attachment": {"type": reply.kind, "payload": {"url": reply.url, "is_reusable": True}}})
        return parts

    @classmethod
    def _quick_replies_fit(cls, reply: Reply) -> bool:
        return (not any(b.url for b in reply.buttons) and len(reply.buttons) <= MAX_QUICK_REPLIES
                and len(reply.text) <= MAX_TEXT)

    @classmethod
    def shows_buttons(cls, reply: Reply) -> bool:
        """Quick replies or a button template, when every title fits; long titles become numbered lines."""
        if not all(len(b.title) <= QUICK_REPLY_TITLE for b in reply.buttons):
            return False
        return cls._quick_replies_fit(reply) or (len(reply.buttons) <= MAX_TEMPLATE_BUTTONS
                                                 and len(reply.text) <= TEMPLATE_TEXT)

    def buttons(self, reply: Reply, target: Target | None) -> list[Message]:
        if self._quick_replies_fit(reply):
            return [{"text": reply.text or "…", "quick_replies": [
                {"content_type": "text", "title": b.title, "payload": b.payload} for b in reply.buttons]}]
        rendered = [{"type": "web_url", "url": b.url, "title": b.title} if b.url
                    else {"type": "postback", "title": b.title, "payload": b.payload} for b in reply.buttons]
        return [{"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": reply.text or "…", "buttons": rendered}}}]

    def numbered(self, reply: Reply) -> list[Message]:
        """Numbered lines, and on the last part quick replies "1", "2", ... carrying the same payloads."""
        parts = super().numbered(reply)
        numbers = [{"content_type": "text", "title": str(n), "payload": b.payload}
                   for n, b in enumerate(reply.buttons, start=1) if b.payload][:MAX_QUICK_REPLIES]
        if numbers:
            parts[-1]["quick_replies"] = numbers
        return parts

    def _post(self, client: PlatformSession, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.settings.facebook_graph_base}/{self.settings.facebook_graph_version}/me/messages"
        try:
            token = {"access_token": self.settings.facebook_page_access_token}
            resp = client.post_json(url, body, params=token, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise SendError("transient", "network", exc.__class__.__name__) from exc
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.ok and "error" not in data:
            return data  # type: ignore[no-any-return]
        error = data.get("error") or {}
        code, subcode = error.get("code"), error.get("error_subcode")
        message = str(error.get("message") or f"HTTP {resp.status_code}")[:200]
        label = f"{code}/{subcode}" if subcode else str(code or f"http_{resp.status_code}")
        if resp.status_code >= 500 and code is None:
            raise SendError("transient", label, message)
        if code in TRANSIENT_CODES:
            raise SendError("transient", label, message, retry_after(resp))
        if subcode in WINDOW_SUBCODES:  # code 10 / 2018278: outside the allowed window
            raise SendError("window", label, message)
        if code == 190:
            log.error("facebook page token rejected (190): renew FACEBOOK_PAGE_ACCESS_TOKEN")
            raise SendError("auth", label, message)
        raise SendError("permanent", label, message)

    def post(self, message: Message, target: Target, http: PlatformSession) -> str:
        assert target.tag not in RETIRED_TAGS, "retired Messenger tag"
        body: dict[str, Any] = {"recipient": {"id": target.user_id}, "message": message}
        if target.tag:
            body.update(messaging_type="MESSAGE_TAG", tag=target.tag)
        else:
            body["messaging_type"] = "RESPONSE"
        return str(self._post(http, body).get("message_id") or "")

    def typing(self, user_id: str, client: PlatformSession) -> None:
        """typing_on while a turn runs; best effort, a failure only costs the indicator."""
        try:
            self._post(client, {"recipient": {"id": user_id}, "sender_action": "typing_on"})
        except SendError as exc:
            log.debug("typing indicator not shown: %s", exc.code)

