"""Channel-neutral messages: what connectors parse requests into and render replies from.

Data moves one way: platform request -> connector -> `Inbound` (stored event) -> turn
-> `Reply` list (outbox) -> connector -> platform. Nothing here knows a platform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

InboundKind = Literal["text", "payload", "attachment", "location", "sticker", "follow", "unfollow"]
ReplyKind = Literal["text", "buttons", "image", "file", "link"]


@dataclass(frozen=True)
class Attachment:
    """A file the citizen sent, still at the platform's URL (downloaded later, with checks)."""

    kind: str  # image | file | audio | video
    url: str
    name: str | None = None  # the user's file name: shown, never used to store
    size: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One thing a citizen did in a chat, parsed from any platform."""

    channel: str
    user_id: str
    kind: InboundKind
    text: str = ""
    payload: str | None = None  # button / quick-reply payload, bypasses NLU
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None  # platform id of the citizen's message (Zalo reply quota)
    timestamp_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inbound:
        atts = tuple(Attachment(**a) for a in data.get("attachments") or ())
        return cls(**{**data, "attachments": atts})


@dataclass(frozen=True)
class Button:
    title: str
    payload: str | None = None  # sent back as `Inbound.payload`
    url: str | None = None  # opens a link instead


@dataclass(frozen=True)
class Reply:
    """One outgoing message; connectors render it natively or degrade it (buttons -> numbered text)."""

    kind: ReplyKind
    text: str = ""
    buttons: tuple[Button, ...] = ()
    url: str | None = None  # image / file / link target
    name: str | None = None  # file name shown to the citizen
    author: Literal["bot", "staff"] = "bot"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        buttons = tuple(Button(**b) for b in data.get("buttons") or ())
        return cls(**{**data, "buttons": buttons})

    @classmethod
    def say(cls, text: str, *buttons: Button) -> Reply:
        return cls(kind="buttons" if buttons else "text", text=text, buttons=tuple(buttons))
