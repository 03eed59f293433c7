"""`- action: <name>`: a named piece of Python (flows.actions) for what data cannot say."""

from __future__ import annotations

from flows.actions import ACTIONS
from flows.context import Answer, Context
from flows.kinds.base import StepKind
from flows.steps import Action as ActionStep


class Action(StepKind):
    def run(self, ctx: Context, step: ActionStep) -> Answer:
        return ACTIONS[step.name](ctx, step)


KIND = Action()
