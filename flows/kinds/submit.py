"""`- submit`: create the dossier from what was collected and send the receipt; the flow ends with it.

If the dossier cannot be created (e.g. a procedure without a processing time), the draft stays at the
confirmation and an officer finishes it.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.agency import Agency
from bot.catalog.store import Catalog
from bot.dossier import LABELS_KEY, SOURCES_KEY, DocumentEntry, SubmissionError, receipt
from bot.dossier import submit as create
from bot.messages import Reply
from bot.templates import text
from flows.context import Answer, Context, hand_to_staff
from flows.kinds.base import StepKind
from flows.kinds.documents import CARD_FILED
from flows.steps import Collect, Documents, Flow
from flows.steps import Submit as SubmitStep

log = logging.getLogger(__name__)

# Answers worth offering again in the citizen's next dossier (the applicant, not the other people named).
REMEMBERED = ("applicant_name", "applicant_id_number", "phone")


def remember(ctx: Context, active: dict[str, Any]) -> None:
    """Keep the applicant's own details in the profile (erased with "xóa dữ liệu của tôi")."""
    profile = dict(ctx.turn.conversation.profile or {})
    for slot in REMEMBERED:
        if active["slots"].get(slot):
            profile[slot] = {"display": active["display"].get(slot) or str(active["slots"][slot])}
    ctx.turn.conversation.profile = profile


def collected(flow: Flow, active: dict[str, Any]) -> tuple[dict[str, Any], list[DocumentEntry]]:
    """The applicant's answers by field id (with the labels asked under LABELS_KEY) and the documents."""
    applicant: dict[str, Any] = {}
    labels: dict[str, str] = {}
    documents: list[DocumentEntry] = []
    from_card = {int(f) for f in active.get(CARD_FILED, [])}
    for step in flow.fields:
        if not step.applies(active["slots"]):
            continue
        if isinstance(step, Collect) and active["slots"].get(step.id) not in (None, ""):
            applicant[step.id] = active["slots"][step.id]
            labels[step.id] = step.label
        elif isinstance(step, Documents) and step.id in active["docs"]:
            doc = active["docs"][step.id]
            if doc.get("none"):
                documents.append(DocumentEntry(item=step.label, not_applicable=True))
            documents += [DocumentEntry(item=step.label, file_id=int(f), from_card=int(f) in from_card)
                          for f in doc.get("files", [])]
    applicant[LABELS_KEY] = labels
    # Fields read from the ID card and confirmed, still holding the card's value (not corrected since).
    card = active.get("sources") or {}
    applicant[SOURCES_KEY] = {k: "card" for k, v in card.items() if k in applicant and applicant[k] == v}
    return applicant, documents


class Submit(StepKind):
    def run(self, ctx: Context, step: SubmitStep) -> Answer:
        flow, active = ctx.flow, ctx.active
        assert flow is not None and active is not None and flow.procedure
        applicant, documents = collected(flow, active)
        catalog = Catalog.load()
        try:
            with ctx.turn.session.begin_nested():
                dossier = create(ctx.turn.session, conversation=ctx.turn.conversation,
                                 procedure_code=flow.procedure, applicant=applicant, documents=documents,
                                 now=ctx.now, agency=Agency.load(), catalog=catalog)
        except SubmissionError as exc:
            log.warning("submission failed conversation=%s flow=%s: %s", ctx.turn.conversation.id, flow.name,
                        type(exc).__name__)
            confirm = flow.first("confirm")
            active["step"] = confirm.id if confirm else active["step"]
            failed = Reply.say(text("dialogue.submit_failed"))
            return Answer(False, [failed, *hand_to_staff(ctx, "request_human")])
        ctx.end_flow()
        ctx.state["last_dossier"] = dossier.code
        remember(ctx, active)
        log.info("dossier submitted conversation=%s dossier=%s", ctx.turn.conversation.id, dossier.id)
        return Answer(True, list(receipt(dossier, catalog)))


KIND = Submit()
