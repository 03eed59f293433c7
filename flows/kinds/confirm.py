"""`- confirm`: the summary of everything collected; submit, or correct one field without starting over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.messages import Button, Inbound, Reply, typed_number
from bot.templates import text
from flows.context import EDIT_CHOICES, NEXT, Answer, Context, payload
from flows.kinds.base import Action, StepKind
from flows.steps import Collect, Documents, Flow
from flows.steps import Confirm as ConfirmStep
from flows.words import EDIT_WORDS, YES_WORDS, chosen
from nlu.text import fold


def editable(flow: Flow, active: dict[str, Any]) -> list[Collect | Documents]:
    """The answered fields that apply, in flow order (what the summary shows and may correct)."""
    return [s for s in flow.fields
            if s.applies(active["slots"]) and (s.id in active["slots"] or s.id in active["docs"])]


def field_named(flow: Flow | None, raw: str) -> str | None:
    """'sửa ngày sinh' -> the field whose label contains the words after "sửa"."""
    folded = fold(raw)
    for prefix in ("sua lai ", "sua ", "doi lai ", "doi ", "chinh sua "):
        if folded.startswith(prefix):
            wanted = folded[len(prefix) :].strip()
            break
    else:
        return None
    if not wanted or flow is None:
        return None
    hits = [s.id for s in flow.fields if wanted in fold(s.label)]
    return hits[0] if len(hits) == 1 else None


def _numbered(flow: Flow, active: dict[str, Any], folded: str) -> str | None:
    """ "3" or "sửa 3" from the numbered list of fields."""
    fields = editable(flow, active)
    number = typed_number(folded.removeprefix("sua "))
    return fields[number - 1].id if number is not None and 1 <= number <= len(fields) else None


def summary(ctx: Context) -> list[Reply]:
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    lines = [text("dialogue.confirm_intro", title=flow.title)]
    for step in flow.fields:
        if not step.applies(active["slots"]):
            continue
        if isinstance(step, Collect) and step.id in active["slots"]:
            lines.append(f"• {step.label}: {active['display'].get(step.id) or text('dialogue.skipped')}")
        elif isinstance(step, Documents) and step.id in active["docs"]:
            doc = active["docs"][step.id]
            files = text("dialogue.confirm_files", count=len(doc["files"]))
            shown = step.none_answer if doc.get("none") else files
            lines.append(f"• {step.label}: {shown}")
    lines.append(text("dialogue.confirm_question"))
    return [
        Reply.say(
            "\n".join(lines),
            Button(text("dialogue.button_submit"), payload("choose", value="submit")),
            Button(text("dialogue.button_edit"), payload("choose", value="edit")),
            Button(text("dialogue.button_cancel"), payload("cancel")),
        )
    ]


class Confirm(StepKind):
    corrects_fields = True

    def prompt(self, ctx: Context, step: ConfirmStep) -> list[Reply]:
        ctx.drop_card_photos(ctx.active)  # every document is behind: a card photo still held is not needed
        return summary(ctx)

    def answer(self, ctx: Context, step: ConfirmStep, inbound: Inbound, action: Action) -> Answer:
        if action and action[0] == "edit":
            return Answer(True, then=("edit", str(action[1].get("field") or "")))
        value = chosen(action)
        folded = fold(inbound.text)
        if value == "submit" or (value is None and not action and folded in YES_WORDS):
            return Answer(True, then=NEXT)
        if value == "edit" or (not action and folded in EDIT_WORDS):
            return Answer(True, then=EDIT_CHOICES)
        flow, active = ctx.flow, ctx.active
        assert flow is not None and active is not None
        field_id = None if action else (field_named(flow, inbound.text) or _numbered(flow, active, folded))
        if field_id:
            return Answer(True, then=("edit", field_id))
        return Answer(False, hint="dialogue.confirm_hint")

    def takes(self, flow: Flow, active: dict[str, Any], step: ConfirmStep, inbound: Inbound,
              now: datetime) -> bool:
        folded = fold(inbound.text)
        return (folded in YES_WORDS or folded in EDIT_WORDS or field_named(flow, inbound.text) is not None
                or _numbered(flow, active, folded) is not None)

    def implied_by(self, step: ConfirmStep, intent: str) -> Action:
        return ("choose", {"value": "submit"}) if intent == "affirm" else None


KIND = Confirm()
