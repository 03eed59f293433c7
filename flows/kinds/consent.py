"""`- consent`: state the purpose and ask for consent before any personal data; skipped once given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.agency import Agency
from bot.consent import consent_details_prompt, consent_prompt, has_consent, record
from bot.messages import Inbound, Reply
from bot.templates import text
from flows.context import NEXT, Answer, Context
from flows.kinds.base import Action, StepKind
from flows.steps import ConsentStep, Flow
from flows.words import NO_WORDS, YES_WORDS, chosen
from nlu.text import fold

DETAILS_WORDS = {"xem chi tiet", "chi tiet", "xem day du", "doc chi tiet", "xem them"}


def purpose(ctx: Context) -> str:
    """Consent is asked and recorded per purpose: one per flow (the purpose text names it)."""
    flow = ctx.flow
    return f"flow:{flow.name}" if flow else "dossier"


class Consent(StepKind):
    def done(self, ctx: Context, step: ConsentStep) -> bool:
        return has_consent(ctx.turn.session, ctx.turn.conversation, purpose(ctx))

    def prompt(self, ctx: Context, step: ConsentStep) -> list[Reply]:
        return [consent_prompt(Agency.load(), ctx.turn.services.settings, step.purpose,
                               ctx.turn.conversation.channel)]

    def answer(self, ctx: Context, step: ConsentStep, inbound: Inbound, action: Action) -> Answer:
        said = chosen(action)
        folded = fold(inbound.text)
        if said == "details" or (said is None and folded in DETAILS_WORDS):  # the full text, same question
            full = consent_details_prompt(Agency.load(), ctx.turn.services.settings, step.purpose,
                                          ctx.turn.conversation.channel)
            return Answer(True, [full])
        if said == "yes" or (said is None and folded in YES_WORDS):
            record(ctx.turn.session, ctx.turn.conversation, True, ctx.now, purpose=purpose(ctx))
            return Answer(True, [Reply.say(text("dialogue.consent_thanks"))], then=NEXT)
        if said == "no" or (said is None and folded in NO_WORDS):
            record(ctx.turn.session, ctx.turn.conversation, False, ctx.now, purpose=purpose(ctx))
            flow = ctx.flow
            ctx.end_flow()
            office = Agency.load().office_text()
            return Answer(True, [Reply.say(text("dialogue.consent_refused", title=flow.title if flow else "",
                                                office=office))])
        return Answer(False, hint="dialogue.consent_hint")

    def takes(self, flow: Flow, active: dict[str, Any], step: ConsentStep, inbound: Inbound,
              now: datetime) -> bool:
        folded = fold(inbound.text)
        return folded in YES_WORDS or folded in NO_WORDS or folded in DETAILS_WORDS

    def implied_by(self, step: ConsentStep, intent: str) -> Action:
        if intent in ("affirm", "deny"):
            return "consent", {"value": "yes" if intent == "affirm" else "no"}
        return None


KIND = Consent()
