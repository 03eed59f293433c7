"""What a step kind is: how its step is asked, answered, run and known to be done.

Each kind of step (`consent`, `collect`, `documents`, `confirm`, `say`, `submit`, `handoff`, `action`) is one
module of `flows.kinds` with one `StepKind`, registered in the table `flows.kinds.KINDS` by the step's type.
The engine walks a flow through that table only, so a new kind is one new module and one table row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.messages import Attachment, Inbound, Reply
from flows.context import Answer, Context
from flows.steps import Flow

Action = tuple[str, dict[str, Any]] | None  # the button pressed, if any


class StepKind:
    """Defaults: a step that asks nothing, takes nothing and is never done in advance."""

    # The step corrects answered fields itself ("sửa ngày sinh" at the confirmation).
    corrects_fields = False

    def free_text(self, step: Any) -> bool:
        """Almost any words are a valid answer (a name, an address): one that reads like a request goes to
        the NLU first."""
        return False

    def done(self, ctx: Context, step: Any) -> bool:
        """Answered already (skipped when moving forward)."""
        return False

    def prompt(self, ctx: Context, step: Any) -> list[Reply]:
        """The question of a waiting step."""
        return []

    def answer(self, ctx: Context, step: Any, inbound: Inbound, action: Action) -> Answer:
        """The citizen's message (or button) as the answer to this waiting step; no NLU here."""
        return Answer(False)

    def takes(self, flow: Flow, active: dict[str, Any], step: Any, inbound: Inbound, now: datetime) -> bool:
        """Whether `answer` would take this typed message (pure: no database, no network)."""
        return False

    def implied_by(self, step: Any, intent: str) -> Action:
        """The button an understood intent stands for at this step ("ừ" read as affirm: "Đồng ý")."""
        return None

    def downloads(self, step: Any, inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
        """Files of the message this step downloads, with its size limit (fetched before the transaction)."""
        return ()

    def run(self, ctx: Context, step: Any) -> Answer:
        """A step that does something instead of asking: ok=True goes on, ok=False stops the flow here."""
        raise TypeError(f"step {step.id} of type {step.type} does not run on its own")

