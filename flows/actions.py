"""Named actions a flow file can call (`- action: show_status`) for what data alone cannot say.

Each action gets the turn's context and its step, and returns an `Answer`: ok=True to go on with the
next step, ok=False to stop the flow here (its replies say why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.agency import local_today
from bot.consent import erase
from bot.dossier import dossiers_of, find_code, list_replies, lookup, shown_code
from bot.dossier_workflow import CITIZEN, change_status
from bot.messages import Button, Reply
from bot.models import DossierDocument
from bot.templates import text
from flows.context import Answer, Context, chunk_buttons, payload
from flows.steps import Action

log = logging.getLogger(__name__)

SUPPLEMENT_STATUS = "supplement_requested"


def after_supplement(dossier: Any) -> str:
    """Back at the top of the officers' queue, the new documents flagged: `received` again (the date is
    recomputed) when an officer had accepted the dossier, else still waiting for acceptance."""
    return "received" if dossier.official_code else "waiting_acceptance"


def list_own_dossiers(ctx: Context, step: Action) -> Answer:
    """Offer the citizen's own dossiers as buttons before asking for a code."""
    active = ctx.active
    assert active is not None
    if active["slots"].get("dossier_code"):
        return Answer(True)
    own = list(dossiers_of(ctx.turn.session, ctx.turn.conversation))
    if not own:
        return Answer(True)
    listing = list_replies(own, local_today(ctx.now))
    buttons = [Button(shown_code(d), payload("choose", value=shown_code(d))) for d in own[:5]]
    return Answer(True, [*listing, *chunk_buttons(text("dialogue.status_own_list"), buttons)])


def show_status(ctx: Context, step: Action) -> Answer:
    active = ctx.active
    assert active is not None
    code = str(active["slots"].get("dossier_code") or "")
    view = lookup(ctx.turn.session, code, ctx.turn.conversation, now=ctx.now)
    if view is None:
        return Answer(True, [Reply.say(text("dialogue.status_not_found", code=code))])
    return Answer(True, view.replies())


def _own_dossier(ctx: Context, code: str) -> Any:
    """The citizen's own dossier with this online reference or official code."""
    wanted = find_code(code) or code.strip().upper()
    return next((d for d in dossiers_of(ctx.turn.session, ctx.turn.conversation)
                 if wanted in (d.code, d.official_code)), None)


def _waiting_dossier(ctx: Context) -> tuple[str, Any, Answer | None]:
    """The slot's code and the citizen's own dossier waiting for documents; else the flow ends, saying why."""
    active = ctx.active
    assert active is not None
    code = str(active["slots"].get("dossier_code") or "")
    dossier = _own_dossier(ctx, code)
    if dossier is not None and dossier.status == SUPPLEMENT_STATUS:
        return code, dossier, None
    ctx.end_flow()
    key = "dialogue.supplement_not_yours" if dossier is None else "dialogue.supplement_not_requested"
    return code, None, Answer(False, [Reply.say(text(key, code=code))])


def supplement_pick(ctx: Context, step: Action) -> Answer:
    """Which dossier to supplement: the only one waiting for it is chosen, several are offered."""
    active = ctx.active
    assert active is not None
    own = dossiers_of(ctx.turn.session, ctx.turn.conversation)
    waiting = [d for d in own if d.status == SUPPLEMENT_STATUS]
    if active["slots"].get("dossier_code"):
        return Answer(True)
    if not waiting:
        ctx.end_flow()
        return Answer(False, [Reply.say(text("dialogue.supplement_none"))])
    if len(waiting) == 1:
        active["slots"]["dossier_code"] = shown_code(waiting[0])
        active["display"]["dossier_code"] = shown_code(waiting[0])
        return Answer(True)
    buttons = [Button(shown_code(d), payload("choose", value=shown_code(d))) for d in waiting[:10]]
    return Answer(True, chunk_buttons(text("dialogue.supplement_which"), buttons))


def supplement_check(ctx: Context, step: Action) -> Answer:
    """Only the citizen's own dossier, and only while staff are asking for documents."""
    code, dossier, refused = _waiting_dossier(ctx)
    if refused is not None:
        return refused
    items = list(dossier.supplement_items or [])
    lines = "\n".join(f"• {item}" for item in items) or (dossier.status_note or "")
    return Answer(True, [Reply.say(text("dialogue.supplement_requested", code=code, items=lines))])


def supplement_attach(ctx: Context, step: Action) -> Answer:
    """Attach the uploaded files, flagged as a supplement, and send the dossier back to the officers.

    The status change goes through bot.dossier_workflow like an officer's: `received` again (top of the
    officers' queue, the appointment recomputed from now), a history row and an audit entry, and the
    citizen's notification with the date.
    """
    code, dossier, refused = _waiting_dossier(ctx)
    if refused is not None:
        return refused
    active = ctx.active
    assert active is not None
    label = text("dialogue.supplement_item")
    files = [int(f) for doc in active["docs"].values() for f in doc.get("files", [])]
    session = ctx.turn.session
    ctx.turn.transcript.write_inbound()  # the citizen's message before the status notification
    for file_id in files:
        session.add(
            DossierDocument(
                dossier_id=dossier.id, item=label, file_id=file_id, supplement=True, created_at=ctx.now
            )
        )
    note = text("dialogue.supplement_history_note", count=len(files))
    change_status(session, dossier, after_supplement(dossier), note, CITIZEN, ctx.now)
    log.info("supplement dossier=%s files=%d", dossier.id, len(files))
    return Answer(True, [Reply.say(text("dialogue.supplement_done", code=code, count=len(files)))])


def erase_data(ctx: Context, step: Action) -> Answer:
    """Withdraw consent and erase personal data and files; say what the law keeps."""
    ctx.turn.transcript.write_inbound()  # the request to erase goes with the rest
    report = erase(ctx.turn.session, ctx.turn.services.settings, ctx.turn.conversation, ctx.now)
    disclosed = ctx.state.get("disclosed", True)
    ctx.state.clear()
    ctx.state["disclosed"] = disclosed
    ctx.state["active"] = None
    log.info("personal data erased conversation=%s", ctx.turn.conversation.id)
    return Answer(False, report.replies())


ACTIONS: dict[str, Callable[[Context, Action], Answer]] = {
    "list_own_dossiers": list_own_dossiers,
    "show_status": show_status,
    "supplement_pick": supplement_pick,
    "supplement_check": supplement_check,
    "supplement_attach": supplement_attach,
    "erase_data": erase_data,
}
