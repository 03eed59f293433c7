"""`- handoff: <reason>`: hand the conversation to an officer (bot.handoff); the flow ends here."""

from __future__ import annotations

from flows.context import Answer, Context, hand_to_staff
from flows.kinds.base import StepKind
from flows.steps import Handoff as HandoffStep


class Handoff(StepKind):
    def run(self, ctx: Context, step: HandoffStep) -> Answer:
        replies = hand_to_staff(ctx, step.reason)
        ctx.end_flow()
        return Answer(False, replies)


KIND = Handoff()
