"""`- document: <item>`: one checklist item, photos or PDFs checked by content, within a size and count range.

The files are downloaded before the turn's transaction (`downloads`, flows.turn.Network) and checked and
stored inside it. A document that is a copy of a person's ID card (`card_of`) starts with the card photo the
citizen sent to fill in that person's details, when it was read, confirmed and kept (flows.kinds.id_card):
the other side and any further file are asked for as usual.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.document import Refusal, accept_upload
from bot.messages import Attachment, Button, Inbound, Reply
from bot.retention import CARD_COPIES
from bot.templates import text
from flows.context import NEXT, Answer, Context, payload
from flows.kinds.base import Action, StepKind
from flows.steps import Documents as DocumentsStep
from flows.steps import Flow
from flows.words import DONE_WORDS, NONE_WORDS
from nlu.text import fold

log = logging.getLogger(__name__)

CARD_FILED = "card_filed"  # active[CARD_FILED]: ids of files filed from a card photo (the dossier shows it)


def max_bytes(step: DocumentsStep) -> int:
    return step.max_mb * 1024 * 1024


def document_prompt(step: DocumentsStep) -> Reply:
    types = ", ".join(a.upper() for a in step.accept)
    count = (
        text("dialogue.document_count_one")
        if step.max_count == 1
        else text("dialogue.document_count_range", low=step.min_count, high=step.max_count)
    )
    ask = step.ask or text("dialogue.document_ask", label=step.label)
    message = text("dialogue.document_rules", ask=ask, types=types, max_mb=step.max_mb, count=count)
    buttons = []
    if step.min_count <= 0 and step.max_count > 1:  # nothing required yet: "Xong" at once
        buttons.append(Button(text("dialogue.button_done"), payload("done")))
    if step.none_answer:
        buttons.append(Button(step.none_answer, payload("none")))
    return Reply.say(message, *buttons)


def file_card_photo(ctx: Context, step: DocumentsStep) -> Reply | None:
    """File the card photo kept for this copy of a person's card as the item's first file, and ask for the
    card's other side; None when none is kept."""
    active = ctx.active
    assert active is not None
    copies = active.get(CARD_COPIES) or {}
    photo = copies.pop(step.card_of, None) if step.card_of else None
    if photo is None:
        return None
    if not copies:
        active.pop(CARD_COPIES, None)
    pending: list[int] = active.setdefault("pending_files", [])
    pending.insert(0, int(photo))
    active.setdefault(CARD_FILED, []).append(int(photo))
    ctx.touch()
    log.info("card photo filed conversation=%s item=%s", ctx.turn.conversation.id, step.id)
    done = Button(text("dialogue.button_done"), payload("done"))
    return Reply.say(text("idcard.copy_filed", label=step.label), *([done] if len(pending) >= step.min_count
                                                                     else []))


def finish_item(ctx: Context, step: DocumentsStep, replies: list[Reply]) -> Answer:
    active = ctx.active
    assert active is not None
    files = list(active.pop("pending_files", []))
    active["docs"][step.id] = {"files": files, "none": False}
    ack = Reply.say(text("dialogue.document_item_done", label=step.label, count=len(files)))
    return Answer(True, [*replies, ack], then=NEXT)


def receive_files(ctx: Context, step: DocumentsStep, attachments: tuple[Attachment, ...]) -> Answer:
    """Check (type by content, size) and store each downloaded file for the pending checklist item."""
    active = ctx.active
    assert active is not None
    pending: list[int] = active.setdefault("pending_files", [])
    settings = ctx.turn.services.settings
    refusals: list[str] = []
    for attachment in attachments:
        if len(pending) >= step.max_count:
            refusals.append(text("dialogue.document_too_many", label=step.label, high=step.max_count))
            break
        try:
            data = ctx.turn.network.download(attachment, max_bytes(step))  # fetched before the transaction
            stored = accept_upload(ctx.turn.session, settings, data, ctx.turn.conversation,
                                   accept=step.content_types, max_bytes=max_bytes(step))
        except Refusal as refusal:
            log.info("file refused conversation=%s reason=%s", ctx.turn.conversation.id, refusal.reason)
            refusals.append(refusal.message())
            continue
        pending.append(stored.id)
    replies = [Reply.say(r) for r in dict.fromkeys(refusals)]
    if len(pending) >= step.max_count:
        return finish_item(ctx, step, replies)
    if not pending:
        return Answer(False, hint="\n".join(dict.fromkeys(refusals)) or "dialogue.document_expected")
    ctx.touch()
    if len(pending) >= step.min_count:
        ack = text(
            "dialogue.document_received_more", label=step.label, count=len(pending), high=step.max_count
        )
        return Answer(True, [*replies, Reply.say(ack, Button(text("dialogue.button_done"), payload("done")))])
    ack = text(
        "dialogue.document_received_need",
        label=step.label,
        count=len(pending),
        missing=step.min_count - len(pending),
    )
    return Answer(True, [*replies, Reply.say(ack)])


class Documents(StepKind):
    def done(self, ctx: Context, step: DocumentsStep) -> bool:
        return step.id in (ctx.active or {}).get("docs", {})

    def prompt(self, ctx: Context, step: DocumentsStep) -> list[Reply]:
        return [file_card_photo(ctx, step) or document_prompt(step)]

    def answer(self, ctx: Context, step: DocumentsStep, inbound: Inbound, action: Action) -> Answer:
        active = ctx.active
        assert active is not None
        pending = active.setdefault("pending_files", [])
        folded = fold(inbound.text)
        if inbound.attachments:
            return receive_files(ctx, step, inbound.attachments)
        name = action[0] if action else None
        if name == "none" or (name is None and folded in NONE_WORDS):
            if not step.none_answer:
                return Answer(False, hint=text("dialogue.document_required", label=step.label))
            if pending:
                return Answer(False, hint=text("dialogue.document_none_after_files", label=step.label))
            active["docs"][step.id] = {"files": [], "none": True}
            return Answer(True, then=NEXT)
        if name == "done" or (name is None and folded in DONE_WORDS):
            if len(pending) < step.min_count:
                missing = step.min_count - len(pending)
                hint = text("dialogue.document_need_more", label=step.label, missing=missing)
                return Answer(False, hint=hint)
            return finish_item(ctx, step, [])
        return Answer(False, hint=text("dialogue.document_expected", label=step.label))

    def takes(self, flow: Flow, active: dict[str, Any], step: DocumentsStep, inbound: Inbound,
              now: datetime) -> bool:
        pending = active.get("pending_files") or []
        folded = fold(inbound.text)
        if inbound.attachments:
            return True
        if folded in NONE_WORDS:
            return bool(step.none_answer) and not pending
        return folded in DONE_WORDS and len(pending) >= step.min_count

    def downloads(self, step: DocumentsStep, inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
        return tuple((attachment, max_bytes(step)) for attachment in inbound.attachments)


KIND = Documents()
