"""The flow engine: walks a loaded `Flow` step by step over `conversation.state`.

What each kind of step does (its question, its answer, whether it is done, what it runs) lives in its own
module, found through the table `flows.kinds.KINDS`; this module only moves through the flow.

State of the active flow (``state["active"]``, plain JSON):
    flow, step        the flow name and the step waiting for an answer
    slots, display    collected values (JSON) and how they are shown back
    docs              {item: {"files": [stored file ids], "none": bool}}
    history           waiting steps answered so far (for "quay lại")
    invalid           invalid answers to the current step
    said              say-steps already said (not repeated after a correction)
    started_at, updated_at   ISO timestamps (resume offer, draft expiry)

Moving forward skips steps whose condition fails and steps already answered, so a correction
from the confirmation re-asks only what the change makes necessary and lands back on it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.messages import Attachment, Button, Inbound, Reply
from bot.templates import text
from flows.context import EDIT_CHOICES, NEXT, Answer, Context, chunk_buttons, payload, text_or_key
from flows.kinds import kind_of
from flows.kinds.confirm import editable, field_named
from flows.loader import load_flows
from flows.steps import Collect, Documents, Flow, Step

log = logging.getLogger(__name__)

INVALID_BEFORE_HUMAN = 3
__all__ = ["load_flows"]  # the dialogue reads the flows through the engine


# ---------------------------------------------------------------- starting and moving forward


def start(ctx: Context, flow: Flow, slots: dict[str, Any] | None = None) -> list[Reply]:
    """Begin `flow` (replacing any other), prefilled with `slots`, and run it to its first question."""
    if ctx.active is not None and ctx.active is not ctx.state.get("suspended"):
        ctx.drop_card_photos(ctx.active)  # the replaced draft will file no card photo
    ctx.state["active"] = {
        "flow": flow.name,
        "step": None,
        "slots": dict(slots or {}),
        "display": {k: str(v) for k, v in (slots or {}).items()},
        "docs": {},
        "history": [],
        "invalid": 0,
        "said": [],
        "started_at": ctx.now.isoformat(),
        "updated_at": ctx.now.isoformat(),
    }
    ctx.state.pop("resume_offered", None)
    if flow.procedure:
        ctx.state["last_procedure"] = flow.procedure
    log.info("flow start conversation=%s flow=%s", ctx.turn.conversation.id, flow.name)
    return advance(ctx, 0)


def advance(ctx: Context, index: int) -> list[Reply]:
    """Run steps from `index` until one waits for the citizen (asked) or the flow ends."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    replies: list[Reply] = []
    for step in flow.steps[index:]:
        kind = kind_of(step)
        if not step.applies(active["slots"]) or kind.done(ctx, step):
            continue
        if step.waits:
            active["step"] = step.id
            active["invalid"] = 0
            ctx.touch()
            return replies + kind.prompt(ctx, step)
        active["step"] = step.id
        result = kind.run(ctx, step)
        replies += result.replies
        if not result.ok or ctx.active is not active:  # stopped, or the step ended/replaced the flow
            return replies
    ctx.end_flow()
    return replies


def next_after(ctx: Context, step: Step) -> list[Reply]:
    """The current step was answered: remember it for going back and move on."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    history = active["history"]
    if step.id not in history:
        history.append(step.id)
    return advance(ctx, flow.index(step.id) + 1)


# ---------------------------------------------------------------- questions and answers


def prompt(ctx: Context, step: Step) -> list[Reply]:
    """The question of a waiting step."""
    return kind_of(step).prompt(ctx, step)


def reask(ctx: Context, hint: str = "") -> list[Reply]:
    """Say what was wrong (template key or text) and ask the pending question again."""
    step = ctx.step
    if step is None:
        return []
    replies = [Reply.say(text_or_key(hint))] if hint else []
    return replies + prompt(ctx, step)


def answer(ctx: Context, inbound: Inbound, action: tuple[str, dict[str, Any]] | None) -> Answer:
    """Try the citizen's message as the answer to the pending step (no NLU here), then do what it asks."""
    step = ctx.step
    if step is None:
        return Answer(False, hint="dialogue.no_question")
    result = kind_of(step).answer(ctx, step, inbound, action)
    if result.then == NEXT:
        result.replies += next_after(ctx, step)
    elif result.then == EDIT_CHOICES:
        result.replies += edit_choices(ctx)
    elif isinstance(result.then, tuple):
        result.replies += edit(ctx, result.then[1])
    return result


def takes(flow: Flow, active: dict[str, Any], step: Step, inbound: Inbound, now: datetime) -> bool:
    """Whether the pending step takes this typed message as its answer by itself (pure: no NLU, no
    database). The runner asks it before the turn's transaction to know whether a parse is needed."""
    return kind_of(step).takes(flow, active, step, inbound, now)


def downloads(step: Step | None, inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
    """The files of this message that the pending step will download (and the size limit it applies)."""
    return kind_of(step).downloads(step, inbound) if step is not None else ()


def free_text(step: Step) -> bool:
    """Almost any words answer this step (a name, an address, a place)."""
    return kind_of(step).free_text(step)


def implied_by(step: Step, intent: str) -> tuple[str, dict[str, Any]] | None:
    """The button an understood intent stands for at this step ("ừ" at the consent: "Đồng ý")."""
    return kind_of(step).implied_by(step, intent)


def corrects_fields(step: Step) -> bool:
    return kind_of(step).corrects_fields


# ---------------------------------------------------------------- correcting and going back


def edit_choices(ctx: Context) -> list[Reply]:
    """Numbered fields (a platform that cuts button titles still shows the list) and one button each."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    fields = editable(flow, active)
    lines = [text("dialogue.edit_which")] + [f"{n}. {s.label}" for n, s in enumerate(fields, 1)]
    buttons = [
        Button(text("dialogue.button_edit_field", label=f"{n}. {s.label}"), payload("edit", field=s.id))
        for n, s in enumerate(fields, 1)
    ]
    return chunk_buttons("\n".join(lines), buttons)


def _forget(ctx: Context, step: Collect | Documents) -> None:
    """Drop a field's answer and make it the pending question."""
    active = ctx.active
    assert active is not None
    active["slots"].pop(step.id, None)
    active["display"].pop(step.id, None)
    active["docs"].pop(step.id, None)
    active.pop("pending_files", None)
    active["step"] = step.id
    active["invalid"] = 0
    ctx.touch()


def edit(ctx: Context, field_id: str) -> list[Reply]:
    """Re-collect one field; answering it leads back to the confirmation (answered steps are skipped)."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    try:
        step = flow.step(field_id)
    except KeyError:
        return edit_choices(ctx)
    if not isinstance(step, Collect | Documents) or not step.applies(active["slots"]):
        return edit_choices(ctx)
    _forget(ctx, step)
    return prompt(ctx, step)


def answered_field(ctx: Context, raw: str) -> str | None:
    """The already answered field that "sửa <label>" names, if exactly one."""
    return answered_field_of(ctx.flow, ctx.active or {}, raw)


def answered_field_of(flow: Flow | None, active: dict[str, Any], raw: str) -> str | None:
    field_id = field_named(flow, raw)
    if field_id and (field_id in active.get("slots", {}) or field_id in active.get("docs", {})):
        return field_id
    return None


def back(ctx: Context) -> list[Reply]:
    """Go back one question: forget its answer and ask it again."""
    active, flow = ctx.active, ctx.flow
    assert active is not None and flow is not None
    history: list[str] = active["history"]
    while history:
        target = flow.step(history.pop())
        if isinstance(target, Collect | Documents) and target.applies(active["slots"]):
            _forget(ctx, target)
            return [Reply.say(text("dialogue.going_back")), *prompt(ctx, target)]
    return reask(ctx, "dialogue.cannot_go_back")
