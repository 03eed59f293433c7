"""What every channel connector offers the rest of the bot, and the renderer that degrades gracefully.

A connector turns platform requests into channel-neutral `ParsedEvent`s (webhook side) and sends
channel-neutral `Reply`s to a `Target` (dispatcher side): `send(reply, target, http) -> platform ids`.
A platform that cannot show buttons gets them as numbered lines; typing the number picks the button on
every channel (`bot.messages.numbered_choice`, applied by the turn).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from bot.config import Settings
from bot.messages import Inbound, Reply
from connectors.http import PlatformSession, retry_after

if TYPE_CHECKING:
    from bot.services import Services

HTTP_TIMEOUT = (3.05, 15)  # connect, read: a stuck platform must not stall a dispatcher for long


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of an HTTP request a connector needs; the body stays the exact bytes received."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    args: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class ParsedEvent:
    """One platform event: a citizen turn (`inbound`), or something the worker records without a turn.

    kind: message | echo (sent by us) | staff (typed by staff on the platform) | receipt | standby |
    control (thread ownership) | follow | unfollow | ignored.
    """

    event_id: str
    user_id: str
    inbound: Inbound | None
    kind: str = "message"
    detail: dict[str, Any] = field(default_factory=dict)


class MalformedEvent(ValueError):
    """The body is not what the platform sends (bad JSON, wrong envelope)."""


@dataclass
class SendError(Exception):
    """A send that did not go through, classified so the dispatcher knows what to do next.

    kind: transient (retry with backoff) | auth (refresh the token, retry once) |
    window (may not go out now: hold until the citizen writes) | permanent (give up, show staff).
    """

    kind: str
    code: str
    message: str = ""
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.code}: {self.message}"[:500]


def post_for_answer(http: PlatformSession, url: str, body: dict[str, Any], what: str,
                    headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST JSON to a notification API and read its JSON answer: (HTTP status, answer). The network, 429
    and 5xx, and an answer that is not JSON are temporary (SendError "transient"); the caller judges the
    rest by the API's own result codes."""
    try:
        resp = http.post_json(url, body, headers=headers, timeout=HTTP_TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise SendError("transient", "network", exc.__class__.__name__) from exc
    if resp.status_code == 429 or resp.status_code >= 500:
        raise SendError("transient", f"http_{resp.status_code}", f"{what} error", retry_after(resp))
    try:
        return resp.status_code, resp.json()
    except ValueError as exc:
        raise SendError("transient", "bad_answer", "answer is not JSON") from exc


def http_session() -> PlatformSession:
    """The session platform calls go through (proxies and CA bundle read once; lean JSON POSTs)."""
    return PlatformSession()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def numbered_text(reply: Reply) -> str:
    """Buttons degraded to numbered lines under the text; link buttons and media show their address.

    The reverse (a typed number picks the button) is `bot.messages.numbered_choice`, applied by the turn.
    """
    lines = [reply.text] if reply.text else []
    for number, button in enumerate(reply.buttons, start=1):
        lines.append(f"{number}. {button.title}" + (f" ({button.url})" if button.url else ""))
    if reply.kind in ("image", "file", "link") and reply.url:
        label = reply.name or ""
        lines.append(f"{label}: {reply.url}" if label else reply.url)
    return "\n".join(lines)


# Where a long text may be cut, best first: between lines, after a sentence, between words.
_BREAKS = (re.compile(r"\n+"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def text_parts(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut between lines, else after a sentence, else
    between words (hard only inside a word longer than `limit`)."""
    if len(text) <= limit:
        return [text]
    return [part.rstrip() for part in _pack(text, limit, 0)]


def _pack(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        return [text[i:i + limit] for i in range(0, len(text), limit)]
    ends = [m.end() for m in _BREAKS[level].finditer(text)]
    pieces = [text[start:end] for start, end in zip([0, *ends], [*ends, len(text)], strict=True)]
    parts: list[str] = []
    current = ""
    for piece in pieces:
        if len(current) + len(piece.rstrip()) <= limit:
            current += piece
            continue
        if current.strip():
            parts.append(current)
        current = piece
        if len(piece.rstrip()) > limit:
            *done, current = _pack(piece, limit, level + 1)
            parts.extend(done)
    if current.strip() or not parts:
        parts.append(current)
    return parts


@dataclass(frozen=True)
class Target:
    """Who a reply goes to and how the window policy (connectors/window.py) lets it go now.

    mode: zalo reply | cs | transaction; messenger RESPONSE | HUMAN_AGENT; direct (web, console).
    ref: our own id of the message (the outbox id), for channels without platform ids.
    """

    user_id: str
    mode: str = "direct"
    message_id: str | None = None  # Zalo: the citizen message a reply addresses (free reply quota)
    tag: str | None = None  # Messenger message tag
    ref: str = ""


Message = dict[str, Any]  # one platform message body, as a connector posts it


class Connector:
    """One channel. Rendering follows Rasa's OutputChannel: every kind of reply has a default that
    degrades (buttons -> numbered lines, long text -> parts cut on sentence boundaries, media -> its link);
    a platform overrides only what it shows natively (`shows_buttons` + `buttons`, `media`) and `post`.
    """

    name: ClassVar[str] = ""
    has_typing: ClassVar[bool] = False  # `typing()` shows an indicator on this platform
    max_text: ClassVar[int] = 2000  # longest text one platform message may carry

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    @classmethod
    def missing_settings(cls, settings: Settings) -> list[str]:
        return []

    def verify(self, request: WebhookRequest) -> bool:
        return False

    def parse(self, request: WebhookRequest) -> list[ParsedEvent]:
        raise MalformedEvent(f"{self.name} has no webhook")

    # ---- sending side ------------------------------------------------------------------------------

    def send(self, reply: Reply, target: Target, http: PlatformSession) -> list[str]:
        """Send one reply; the platform's message ids, in sending order. Raises SendError.

        `http` is the calling dispatcher thread's session (sessions are not shared between threads).
        """
        return [self.post(message, target, http) for message in self.render(reply, target)]

    def post(self, message: Message, target: Target, http: PlatformSession) -> str:
        """Post one rendered message; its platform id ("" when the platform gives none)."""
        raise NotImplementedError

    def render(self, reply: Reply, target: Target | None = None) -> list[Message]:
        """The platform messages for one reply, in sending order: native where the platform can, else
        the degraded default."""
        if reply.kind in ("image", "file") and reply.url:
            native = self.media(reply, target)
            if native is not None:
                return native
        if reply.buttons and self.shows_buttons(reply):
            return self.buttons(reply, target)
        return self.numbered(reply)

    @classmethod
    def shows_buttons(cls, reply: Reply) -> bool:
        """Whether this platform shows the reply's buttons as buttons (else: numbered lines)."""
        return False

    def buttons(self, reply: Reply, target: Target | None) -> list[Message]:
        """Native buttons; called only when `shows_buttons(reply)`."""
        raise NotImplementedError

    def media(self, reply: Reply, target: Target | None) -> list[Message] | None:
        """A native image or file message; None degrades it to text with its link."""
        return None

    def numbered(self, reply: Reply) -> list[Message]:
        """The degraded default: text with buttons as numbered lines and media as links, in parts."""
        return self.text(numbered_text(reply))

    def text(self, text: str) -> list[Message]:
        return [{"text": part} for part in text_parts(text, self.max_text)]

    def typing(self, user_id: str, client: PlatformSession) -> None:
        """Show that the bot is working on an answer (where the platform supports it)."""
