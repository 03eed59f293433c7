"""`- collect: <slot>`: ask for one typed value, checked by its kind's validator (flows.validators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.dossier import find_code
from bot.messages import Button, Inbound, Reply
from bot.templates import text
from flows.checks import failing
from flows.context import NEXT, Answer, Context, chunk_buttons, jsonable, payload
from flows.kinds.base import Action, StepKind
from flows.steps import Collect as CollectStep
from flows.steps import Flow
from flows.validators import validate as check
from flows.words import SKIP_WORDS, chosen
from nlu.text import fold

# Almost any words validate ("tra cứu hồ sơ" is a name, even a country name, too).
FREE_TEXT = ("text", "address", "person_name", "nationality")


def validate(now: datetime, step: CollectStep, raw: str) -> tuple[bool, Any, str, str]:
    """(ok, value, display, hint) for `raw` by the step's kind."""
    if step.kind == "dossier_code":
        code = find_code(raw)
        return (True, code, code, "") if code else (False, None, "", "dialogue.hint_dossier_code")
    rules = dict(step.rules)
    if step.kind == "choice":
        rules["options"] = list(step.options)
    result = check(step.kind, raw, now=now, **rules)
    display = str(result.display if result.display is not None else result.value or "")
    return bool(result.ok), jsonable(result.value), display, result.hint()


def store(ctx: Context, step: CollectStep, value: Any, display: str) -> Answer:
    """Keep the answer, unless with the other answers it breaks one of the flow's checks: then the
    citizen reads why and is asked the same question again."""
    active, flow = ctx.active, ctx.flow
    assert active is not None
    if flow is not None and flow.checks:
        broken = failing(flow, {**active["slots"], step.id: value}, ctx.now, changed=step.id)
        if broken is not None:
            return Answer(False, hint=broken.say)
    active["slots"][step.id] = value
    active["display"][step.id] = display
    return Answer(True, then=NEXT)


class Collect(StepKind):
    def free_text(self, step: CollectStep) -> bool:
        return step.kind in FREE_TEXT

    def done(self, ctx: Context, step: CollectStep) -> bool:
        return step.id in (ctx.active or {}).get("slots", {})

    def prompt(self, ctx: Context, step: CollectStep) -> list[Reply]:
        buttons = [Button(o, payload("choose", value=o)) for o in step.options]
        known = (ctx.turn.conversation.profile or {}).get(step.id)
        if isinstance(known, dict) and not step.options and known.get("display"):
            # Given for an earlier dossier (with consent): one tap to reuse it.
            buttons.append(Button(str(known["display"])[:60], payload("choose", value=str(known["display"]))))
        if step.optional:
            buttons.append(Button(text("dialogue.button_skip"), payload("skip")))
        return chunk_buttons(step.ask, buttons)

    def answer(self, ctx: Context, step: CollectStep, inbound: Inbound, action: Action) -> Answer:
        if (action and action[0] == "skip") or (not action and fold(inbound.text) in SKIP_WORDS):
            if step.optional:
                return store(ctx, step, None, text("dialogue.skipped"))
            return Answer(False, hint="dialogue.not_optional")
        raw = chosen(action)
        if raw is None:
            if action is not None or not inbound.text.strip():
                return Answer(False, hint=step.hint or "dialogue.hint_text_expected")
            raw = inbound.text.strip()
        ok, value, display, hint = validate(ctx.now, step, raw)
        if not ok:
            return Answer(False, hint=hint or step.hint or "dialogue.hint_invalid")
        return store(ctx, step, value, display)

    def takes(self, flow: Flow, active: dict[str, Any], step: CollectStep, inbound: Inbound,
              now: datetime) -> bool:
        if fold(inbound.text) in SKIP_WORDS:
            return step.optional
        if not inbound.text.strip():
            return False
        ok, value, _, _ = validate(now, step, inbound.text.strip())
        # An answer a cross-field check refuses is not taken by itself: the turn reads it like any other.
        return ok and failing(flow, {**active.get("slots", {}), step.id: value}, now, changed=step.id) is None


KIND = Collect()
