"""Channel-neutral messages: what connectors parse requests into and render replies from.

Data moves one way: platform request -> connector -> `Inbound` (stored event) -> turn
-> `Reply` list (outbox) -> connector -> platform. Nothing here knows a platform.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.numbers import narrow

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
        """What `dataclasses.asdict` gives (every value is an immutable scalar), without its deep copy:
        every turn stores its message and replies."""
        return {**self.__dict__, "attachments": tuple(dict(a.__dict__) for a in self.attachments)}

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
        """As `Inbound.to_dict`: `dataclasses.asdict` without its deep copy."""
        return {**self.__dict__, "buttons": tuple(dict(b.__dict__) for b in self.buttons)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        buttons = tuple(Button(**b) for b in data.get("buttons") or ())
        return cls(**{**data, "buttons": buttons})

    @classmethod
    def say(cls, text: str, *buttons: Button) -> Reply:
        return cls(kind="buttons" if buttons else "text", text=text, buttons=tuple(buttons))


# "3", "3.", "3)", "số 3", "so 3", "phương án 3", "mục 3", fullwidth "３" (NFKC makes it "3").
_TYPED_NUMBER = re.compile(r"^(?:(?:số|so|phương án|phuong an|mục|muc)\s*)?([0-9]{1,2})\s*[.)]?$")


def typed_number(text: str) -> int | None:
    """The number a citizen typed to pick an item of a numbered list; None when the text is not one."""
    # ASCII digits after widening fullwidth forms only (bot.numbers): "²", "①" or "٣" pick nothing.
    match = _TYPED_NUMBER.match(narrow(text or "").strip().lower())
    return int(match.group(1)) if match else None


def numbered_choice(text: str, payloads: Sequence[str | None]) -> str | None:
    """The payload of the item a typed number picks from a numbered list (buttons shown as numbered lines,
    see `connectors.base.numbered_text`); None when the text is no number of the list or the item is a link.
    """
    number = typed_number(text)
    if number is None or not 1 <= number <= len(payloads):
        return None
    return payloads[number - 1] or None
