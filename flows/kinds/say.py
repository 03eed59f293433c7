"""`- say: <text or template key>`: tell the citizen something and move on (once: not after a correction)."""

from __future__ import annotations

from bot.messages import Reply
from flows.context import Answer, Context, text_or_key
from flows.kinds.base import StepKind
from flows.steps import Say as SayStep


class Say(StepKind):
    def done(self, ctx: Context, step: SayStep) -> bool:
        return step.id in (ctx.active or {}).get("said", [])

    def run(self, ctx: Context, step: SayStep) -> Answer:
        active = ctx.active
        assert active is not None
        active["said"].append(step.id)
        return Answer(True, [Reply.say(text_or_key(step.text))])


KIND = Say()
