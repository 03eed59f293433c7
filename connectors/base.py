"""What every channel connector offers the rest of the bot, and the renderer that degrades gracefully.

A connector turns platform requests into channel-neutral `ParsedEvent`s (webhook side) and channel-neutral
`Reply`s into platform payloads it sends (dispatcher side). A platform that cannot show buttons gets them
as numbered lines; typing the number picks the button (see `pick_button`).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bot.config import Settings
from bot.messages import Button, Inbound, Reply
from bot.numbers import narrow
from connectors.http import PlatformSession

if TYPE_CHECKING:
    from bot.models import OutboxMessage
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


def http_session() -> PlatformSession:
    """The session platform calls go through (proxies and CA bundle read once; lean JSON POSTs)."""
    return PlatformSession()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def numbered_text(reply: Reply) -> str:
    """Buttons degraded to numbered lines under the text; link buttons show their address."""
    lines = [reply.text] if reply.text else []
    for number, button in enumerate(reply.buttons, start=1):
        lines.append(f"{number}. {button.title}" + (f" ({button.url})" if button.url else ""))
    if reply.kind in ("image", "file", "link") and reply.url:
        label = reply.name or ""
        lines.append(f"{label}: {reply.url}" if label else reply.url)
    return "\n".join(lines)


NUMBER = re.compile(r"^\s*([0-9]{1,2})\s*[.)]?\s*$")  # ASCII digits after `narrow`, as bot.numbers reads


def pick_button(text: str, buttons: Sequence[Button]) -> Button | None:
    """The button a citizen picked by typing its number, on channels that showed numbered text."""
    match = NUMBER.match(narrow(text or ""))
    if not match:
        return None
    index = int(match.group(1)) - 1
    if 0 <= index < len(buttons) and buttons[index].payload:
        return buttons[index]
    return None


class Connector:
    """Base connector: text-only rendering, no webhook, no typing indicator."""

    name: ClassVar[str] = ""
    has_typing: ClassVar[bool] = False  # `typing()` shows an indicator on this platform

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        return True

    @classmethod
    def missing_settings(cls, settings: Settings) -> list[str]:
        return []

    def verify(self, request: WebhookRequest) -> bool:
        return False

    def parse(self, request: WebhookRequest) -> list[ParsedEvent]:
        raise MalformedEvent(f"{self.name} has no webhook")

    def render(self, reply: Reply, target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Payload(s) for one reply; the default is a single numbered-text message."""
        return [{"text": numbered_text(reply)}]

    def send(self, item: OutboxMessage, client: PlatformSession, target: dict[str, Any]) -> str:
        """Send one outbox item; returns the platform message id(s), comma-separated. Raises SendError."""
        raise NotImplementedError

    def typing(self, user_id: str, client: PlatformSession) -> None:
        """Show that the bot is working on an answer (where the platform supports it)."""
