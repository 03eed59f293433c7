"""One turn's view of the dialogue state, and what every part of the dialogue shares: button payloads,
button chunks, what a step made of a message (`Answer`), handing a conversation to staff.

The bottom of `flows/`: the step kinds (`flows.kinds`), the actions, the engine and the dialogue manager
all build on it; it imports none of them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot import handoff as owner
from bot.agency import Agency
from bot.consent import CONSENT_DETAILS, CONSENT_NO, CONSENT_YES
from bot.messages import Button, Inbound, Reply
from bot.retention import CARD_COPIES, drop_card_photos, held_card_photos
from bot.templates import has, text
from flows.steps import Flow, Step
from flows.turn import Turn

log = logging.getLogger(__name__)

MAX_BUTTONS = 5  # Zalo shows at most five buttons per message; more go into another message

# What the engine does after a step took an answer (`Answer.then`).
NEXT = "next"  # move on to the next step
EDIT_CHOICES = "edit_choices"  # list the answered fields to correct


def payload(name: str, **args: Any) -> str:
    """A button payload: "/<name>" plus a JSON object when it carries values."""
    return f"/{name}" + (json.dumps(args, ensure_ascii=False, separators=(",", ":")) if args else "")


def parse_payload(raw: str | None) -> tuple[str, dict[str, Any]] | None:
    """'/ask_fee{"procedure":"1.001193"}' -> ("ask_fee", {...}); None when it is not a payload."""
    if not raw or not raw.startswith("/"):
        return None
    body = raw[1:].strip()
    name, _, rest = body.partition("{")
    name = name.strip()
    if not name or not name.replace("_", "").isalnum():
        return None
    args: dict[str, Any] = {}
    if rest:
        try:
            loaded = json.loads("{" + rest)
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        args = loaded
    return name, args


def action_of(inbound: Inbound) -> tuple[str, dict[str, Any]] | None:
    """The button the citizen pressed (payload, or payload text typed/sent back as text), if any."""
    for raw in (inbound.payload, inbound.text.strip()):
        if raw == CONSENT_YES:
            return "consent", {"value": "yes"}
        if raw == CONSENT_NO:
            return "consent", {"value": "no"}
        if raw == CONSENT_DETAILS:
            return "consent", {"value": "details"}
        parsed = parse_payload(raw)
        if parsed:
            return parsed
    return None


def chunk_buttons(message: str, buttons: list[Button]) -> list[Reply]:
    """One reply with the text and the first buttons, more replies for the rest (platform limits)."""
    if not buttons:
        return [Reply.say(message)]
    out = [Reply.say(message, *buttons[:MAX_BUTTONS])]
    rest = buttons[MAX_BUTTONS:]
    while rest:
        out.append(Reply.say(text("dialogue.more_choices"), *rest[:MAX_BUTTONS]))
        rest = rest[MAX_BUTTONS:]
    return out


def text_or_key(value: str) -> str:
    """A template key's text, or the value itself (flow files may write either)."""
    return text(value) if has(value) else value


_PLAIN = (str, int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """The value with dates as ISO text, for the JSON column (called on the whole context every turn)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass
class Answer:
    """What a step made of the citizen's message (or what a running step did).

    `then` asks the engine for what comes after: NEXT (the following step), EDIT_CHOICES, or
    ("edit", field id) to correct one field; None: nothing (the replies say it all).
    """

    ok: bool
    replies: list[Reply] = field(default_factory=list)
    hint: str = ""  # template key (or text) explaining what was wrong when not ok
    then: str | tuple[str, str] | None = None


class Context:
    """One turn's view of the dialogue state; `save()` writes it back as a new dict."""

    def __init__(self, turn: Turn, flows: dict[str, Flow]) -> None:
        self.turn = turn
        self.intent: str | None = None  # what the NLU (or a button) said this message was, for the transcript
        self.reading: dict[str, Any] = {}  # confidence, procedure, outcome (TurnTranscript.note_intent)
        # A copy of its own (`jsonable` builds every dict and list anew; JSON scalars are immutable), so a
        # turn that fails half-way leaves the conversation's state as it was. copy.deepcopy did the same at
        # several times the cost: it was a tenth of a form turn's CPU.
        self.state: dict[str, Any] = jsonable(dict(turn.conversation.state or {}))
        self.flows = flows

    @property
    def now(self) -> datetime:
        return self.turn.now

    @property
    def active(self) -> dict[str, Any] | None:
        active = self.state.get("active")
        return active if isinstance(active, dict) else None

    @property
    def flow(self) -> Flow | None:
        active = self.active
        return self.flows.get(active["flow"]) if active else None

    @property
    def step(self) -> Step | None:
        flow, active = self.flow, self.active
        if flow is None or active is None or not active.get("step"):
            return None
        try:
            return flow.step(active["step"])
        except KeyError:
            return None

    def touch(self) -> None:
        if self.active is not None:
            self.active["updated_at"] = self.now.isoformat()

    def drop_card_photos(self, draft: Any) -> None:
        """Delete the card photos a draft still holds for a card-copy document it did not file: it ends,
        is replaced, or reached its confirmation without that document (bot.retention.held_card_photos)."""
        if not isinstance(draft, dict):
            return
        self.drop_photos(held_card_photos(draft))
        draft.pop(CARD_COPIES, None)
        if isinstance(draft.get("card"), dict):
            draft["card"].pop("photo", None)

    def drop_photos(self, ids: set[int]) -> None:
        """Delete these stored card photos of the conversation (a reading rejected or replaced)."""
        turn = self.turn
        drop_card_photos(turn.session, turn.services.settings, turn.conversation.id, ids)

    def end_flow(self) -> None:
        self.drop_card_photos(self.active)
        self.state["active"] = None
        self.state.pop("resume_offered", None)

    def save(self) -> None:
        # A new dict (sharing no list or dict with self.state), so the JSON column sees the change.
        self.turn.conversation.state = jsonable(self.state)


def hand_to_staff(ctx: Context, reason: str) -> list[Reply]:
    """An officer takes over: the bot stays silent until staff hand the conversation back."""
    conv = ctx.turn.conversation
    owner.to_staff(conv, reason, ctx.now)
    ctx.reading["outcome"] = f"handoff_{reason}"
    log.info("handoff conversation=%s reason=%s", conv.id, reason)
    return [owner.handoff_notice(Agency.load(), ctx.now, reason)]
