"""`- notify` (implied before `confirm` in every submission flow): how the citizen wants to be told.

The citizen picks the chat, Zalo by phone number (ZNS) or SMS, or no notification; only the channels this
centre has switched on are offered, and the step is skipped when there is nothing to choose (no push
channel on, no phone number given) or a choice is already recorded. The choice is recorded with its
consent (bot.notify.preference). Later, "dừng thông báo" / "báo qua SMS" changes it at any time (`requested`,
read by the dialogue before anything else).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.messages import Button, Inbound, Reply
from bot.notify.channels import enabled
from bot.notify.preference import choose as record_choice
from bot.notify.preference import current
from bot.templates import text
from flows.context import NEXT, Answer, Context, payload
from flows.kinds.base import Action, StepKind
from flows.steps import Flow
from flows.words import chosen
from nlu.text import fold

PLATFORMS = ("zalo", "facebook")  # conversations that can be told in the chat itself
# Typed answers at the step (folded, whole message).
WORDS = {
    "chat": {"qua tin nhan nay", "tin nhan nay", "chat", "qua chat", "nhan tin"},
    "zalo": {"zalo", "qua zalo", "zalo theo so dien thoai"},
    "sms": {"sms", "qua sms", "tin nhan sms", "nhan sms"},
    "none": {"khong can", "khong can thong bao", "khong"},
}
# A change asked for at any time (folded text): stop, or a channel named after "báo / thông báo qua".
_STOP = re.compile(r"\b(dung|ngung|huy|tat|khong (can|muon) nhan)( gui)? (thong bao|tin nhan sms|sms)\b")
_TO = re.compile(r"\b(bao|thong bao|nhan thong bao|gui thong bao)( cho (toi|em|minh))? (qua|bang|ve) "
                 r"(tin nhan sms|sms|zalo|tin nhan nay|chat)\b")


def options(ctx: Context) -> list[str]:
    """The choices offered to this citizen: the chat where it can push, the push channels that are on."""
    on = enabled(ctx.turn.services.settings)
    offered = ["chat"] if ctx.turn.conversation.channel in PLATFORMS else []
    offered += [{"zns": "zalo"}.get(channel, channel) for channel in on]
    return [*offered, "none"]


class Notify(StepKind):
    def done(self, ctx: Context, step: Any) -> bool:
        active = ctx.active or {}
        if not active.get("slots", {}).get("phone") or not enabled(ctx.turn.services.settings):
            return True
        return current(ctx.turn.session, ctx.turn.conversation.id) is not None

    def prompt(self, ctx: Context, step: Any) -> list[Reply]:
        key = "notify.ask" if ctx.turn.conversation.channel in PLATFORMS else "notify.ask_web"
        buttons = [Button(text(f"notify.button_{value}"), payload("choose", value=value))
                   for value in options(ctx)]
        return [Reply.say(text(key), *buttons)]

    def answer(self, ctx: Context, step: Any, inbound: Inbound, action: Action) -> Answer:
        value = chosen(action) or _typed(inbound.text)
        if value not in options(ctx):
            return Answer(False, hint="notify.hint")
        record_choice(ctx.turn.session, ctx.turn.conversation, value, ctx.now)
        return Answer(True, [Reply.say(text(f"notify.chosen_{value}"))], then=NEXT)

    def takes(self, flow: Flow, active: dict[str, Any], step: Any, inbound: Inbound, now: datetime) -> bool:
        return _typed(inbound.text) is not None


def _typed(message: str) -> str | None:
    folded = fold(message)
    return next((value for value, words in WORDS.items() if folded in words), None)


def requested(message: str) -> str | None:
    """The change a message asks for ("dừng thông báo" -> none, "báo qua SMS cho tôi" -> sms), if any."""
    folded = fold(message)
    if _STOP.search(folded):
        return "none"
    wanted = _TO.search(folded)
    if wanted is None:
        return None
    return {"tin nhan sms": "sms", "sms": "sms", "zalo": "zalo"}.get(wanted.group(5), "chat")


def change(ctx: Context, value: str) -> list[Reply]:
    """Record the change the citizen asked for, if this centre can do it."""
    if value not in options(ctx):
        channel = text(f"notify.channel_{value}") if value in ("zalo", "sms") else ""
        return [Reply.say(text("notify.unavailable", channel=channel))]
    record_choice(ctx.turn.session, ctx.turn.conversation, value, ctx.now)
    return [Reply.say(text(f"notify.chosen_{value}"))]


KIND = Notify()
