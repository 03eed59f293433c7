"""The dialogue manager: one citizen message in, the bot's replies out.

Like a ConversationHandler: entry points (intents outside a flow), the state of the active flow
(its pending step answers first), and fallbacks that apply in every state (side questions, a
human, cancel, going back, "are you a bot?", erase my data). The flows themselves are data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.agency import Agency
from bot.catalog.store import Catalog
from bot.insight import satisfaction
from bot.messages import Button, Reply
from bot.staff.handoff import handoff_notice
from bot.templates import text
from bot.turn import Turn, note_intent
from flows import engine
from flows.engine import Context, payload
from flows.steps import Collect, Confirm, ConsentStep
from nlu.client import Candidate, NLUUnavailable
from nlu.text import fold

log = logging.getLogger(__name__)

CONFIDENT = 0.5  # below this the NLU guess is treated as "not understood"
GREET_SURE = 0.8
VAGUE = ("affirm", "deny", "out_of_scope")  # intents that say nothing when a procedure is named
CANDIDATE_MIN = 0.65  # procedure candidates scored lower are noise ("phí bao nhiêu?" names none)
SIDE_QUESTIONS = ("ask_procedure", "ask_fee", "ask_documents", "ask_duration", "ask_office")
INTERRUPTIONS = (  # what may interrupt a flow when said in words (buttons may carry any intent)
    *SIDE_QUESTIONS,
    "request_human",
    "cancel",
    "bot_challenge",
    "delete_data",
    "complaint",
    "check_status",
)
ENGINE_ACTIONS = ("choose", "consent", "edit", "skip", "done", "none", "back", "resume", "restart")
# Kinds where almost any words validate ("tra cứu hồ sơ" is a valid name): look for a clear intent first.
FREE_TEXT_KINDS = ("text", "address", "person_name")
BACK_WORDS = {"quay lai", "back", "tro lai", "quay lai buoc truoc", "lui lai", "quay lai cau truoc"}
IDLE = timedelta(minutes=30)
COMPLAINT_WORDS = 8  # a complaint this long already says what happened: no need to ask for it
# Flows that may interrupt a dossier and hand it back when they end.
SUSPENDING_FLOWS = ("check_status", "complaint", "handoff", "delete_data")


@dataclass
class Understanding:
    """The intent and entities of one message, from a button payload or from the NLU."""

    intent: str
    confidence: float
    entities: dict[str, str] = field(default_factory=dict)
    candidates: tuple[Candidate, ...] = ()
    text: str = ""
    from_button: bool = False

    @property
    def procedure(self) -> str | None:
        return self.entities.get("procedure")


def understand(ctx: Context, message: str) -> Understanding:
    parse = ctx.turn.services.nlu.parse(message)
    ctx.intent = parse.intent
    best = max(parse.candidates, key=lambda c: c.score, default=None)
    ctx.reading.update(confidence=parse.confidence, procedure=(best.code, best.score) if best else None)
    entities: dict[str, str] = {}
    for e in parse.entities:
        entities.setdefault(e.entity, e.value)
    # The linker always ranks something; only a real match is a mention of a procedure.
    candidates = tuple(c for c in parse.candidates if c.score >= CANDIDATE_MIN)
    return Understanding(parse.intent, parse.confidence, entities, candidates, message)


def from_payload(name: str, args: dict[str, Any]) -> Understanding:
    return Understanding(name, 1.0, {k: str(v) for k, v in args.items()}, (), "", True)


# ---------------------------------------------------------------- the turn


def handle_turn(turn: Turn) -> list[Reply]:
    """Answer one inbound message; the state is written back to the conversation."""
    ctx = Context(turn)
    replies: list[Reply] = []
    if not ctx.state.get("disclosed"):
        replies.append(Reply.say(text("dialogue.disclosure", agency=_agency().name)))
        ctx.state["disclosed"] = True
    try:
        replies += route(ctx)
    except NLUUnavailable:
        log.warning("nlu unavailable conversation=%s", turn.conversation.id)
        if ctx.step is not None:  # buttons and valid answers still work: ask the pending question again
            replies += engine.reask(ctx, "dialogue.nlu_down_in_flow")
        else:
            replies.append(menu(text("dialogue.nlu_down")))
    replies += _restore_suspended(ctx)
    ctx.save()
    _note_intent(ctx)
    return replies


def _note_intent(ctx: Context) -> None:
    """Write the understood intent on the citizen's message in the transcript (staff, analytics)."""
    action = engine.action_of(ctx.turn.inbound)
    intent = ctx.intent or (action[0] if action else None)
    if intent:
        note_intent(ctx.turn.session, intent, **ctx.reading)


def route(ctx: Context) -> list[Reply]:
    inbound = ctx.turn.inbound
    if inbound.kind == "unfollow":
        return []
    replies = _expire_draft(ctx)
    if inbound.kind == "follow":
        return replies + welcome(ctx)
    action = engine.action_of(inbound)
    if action and action[0] == satisfaction.ACTION:  # valid in any state: it asks nothing back
        return [*replies, satisfaction.answer(ctx.turn.session, ctx.turn.conversation, action[1], ctx.now)]
    if ctx.active is not None and ctx.step is not None:
        return replies + in_flow(ctx, action)
    if ctx.active is not None:  # a flow whose step vanished (flow file edited): start clean
        ctx.end_flow()
    if action and action[0] in ENGINE_ACTIONS:
        return [*replies, menu(text("dialogue.stale_button"))]
    if inbound.attachments:
        return [*replies, menu(text("dialogue.file_unexpected"))]
    if action:
        return replies + by_intent(ctx, from_payload(*action))
    if not inbound.text.strip():
        return [*replies, menu(text("dialogue.empty_message"))]
    return replies + by_intent(ctx, understand(ctx, inbound.text))


# ---------------------------------------------------------------- inside a flow


def in_flow(ctx: Context, action: tuple[str, dict[str, Any]] | None) -> list[Reply]:
    """The active flow's pending step answers first; otherwise look for an interruption."""
    inbound = ctx.turn.inbound
    step = ctx.step
    assert step is not None
    if action:
        name = action[0]
        ctx.state.pop("resume_offered", None)
        if name == "resume":
            return engine.reask(ctx, "dialogue.resumed")
        if name == "restart":
            flow = ctx.flow
            assert flow is not None
            return [Reply.say(text("dialogue.restarted", title=flow.title)), *engine.start(ctx, flow)]
        if name == "back":
            return engine.back(ctx)
        if name in ENGINE_ACTIONS:
            result = engine.answer(ctx, inbound, action)
            return result.replies if result.ok else invalid(ctx, result.hint)
        return interruption(ctx, from_payload(*action))
    folded = fold(inbound.text)
    if folded in BACK_WORDS:
        return engine.back(ctx)
    earlier = engine.answered_field(ctx, inbound.text)
    if earlier and not isinstance(step, Confirm):  # "sửa ngày sinh" before the summary: fix it, then go on
        return engine.edit(ctx, earlier)
    idle = _idle(ctx)
    heard: Understanding | None = None
    if isinstance(step, Collect) and step.kind in FREE_TEXT_KINDS and inbound.text.strip():
        try:
            heard = understand(ctx, inbound.text)
        except NLUUnavailable:  # the value itself can still be taken
            heard = Understanding("out_of_scope", 0.0, text=inbound.text)
        if _is_interruption(ctx, heard, strict=True):
            return interruption(ctx, heard)
        if heard.intent == "greet" and heard.confidence >= GREET_SURE:  # "chào em" is a valid name too
            return offer_resume(ctx, greet=True)
    result = engine.answer(ctx, inbound, None)
    if result.ok:
        ctx.state.pop("resume_offered", None)
        ctx.turn.conversation.failed_understanding = 0
        return result.replies
    if inbound.text.strip() and heard is None:
        heard = understand(ctx, inbound.text)
    if heard is not None:
        if (
            isinstance(step, ConsentStep | Confirm)
            and heard.intent in ("affirm", "deny")
            and heard.confidence >= CONFIDENT
        ):
            value = (
                ("yes" if heard.intent == "affirm" else "no") if isinstance(step, ConsentStep) else "submit"
            )
            if isinstance(step, ConsentStep) or heard.intent == "affirm":
                kind = "consent" if isinstance(step, ConsentStep) else "choose"
                retry = engine.answer(ctx, inbound, (kind, {"value": value}))
                if retry.ok:
                    return retry.replies
        if _is_interruption(ctx, heard, strict=False):
            return interruption(ctx, heard)
        if idle or heard.intent == "greet":
            return offer_resume(ctx, greet=heard.intent == "greet")
    elif idle:
        return offer_resume(ctx)
    return invalid(ctx, result.hint)


def _is_interruption(ctx: Context, heard: Understanding, *, strict: bool) -> bool:
    """Strict (free-text answers): only a clear question or a clear request for help/cancel."""
    if heard.intent not in INTERRUPTIONS or heard.confidence < CONFIDENT:
        return False
    flow = ctx.flow
    if flow is not None and flow.name == heard.intent:  # "complaint" text inside the complaint flow
        return False
    if not strict:
        return True
    if heard.intent in SIDE_QUESTIONS or heard.intent == "check_status":
        return "?" in heard.text or heard.confidence >= 0.9
    if heard.intent == "complaint":
        # An address or a name can read like a grievance to the classifier; a citizen who wants to
        # complain mid-form still can ("gặp cán bộ", "hủy"), and the complaint flow is one tap away.
        return False
    return heard.confidence >= 0.8


def interruption(ctx: Context, heard: Understanding) -> list[Reply]:
    """Something other than an answer, in the middle of a flow: deal with it, then come back."""
    ctx.turn.conversation.failed_understanding = 0
    intent = heard.intent
    flow = ctx.flow
    if intent in SIDE_QUESTIONS:
        procedure_hint = flow.procedure if flow else None
        return answer_question(ctx, intent, heard, context=procedure_hint) + engine.reask(
            ctx, "dialogue.back_to_step"
        )
    if intent == "bot_challenge":
        return [Reply.say(text("dialogue.bot_challenge", agency=_agency().name)), *engine.reask(ctx)]
    if intent == "cancel":
        return cancel(ctx)
    if intent == "delete_data":
        return start_flow(ctx, "delete_data")
    if intent in ("request_human", "complaint", "check_status"):
        return by_intent(ctx, heard)
    if intent == "submit_dossier" and flow is not None:  # a "Nộp hồ sơ" button under an answer
        if heard.procedure in (None, flow.procedure):
            return engine.reask(ctx, "dialogue.resumed")
        return [
            Reply.say(
                text("dialogue.finish_first", title=flow.title),
                Button(text("dialogue.button_cancel"), payload("cancel")),
            ),
            *engine.reask(ctx),
        ]
    if intent == "greet":
        return offer_resume(ctx, greet=True)
    if intent in ("thank", "goodbye", "affirm", "deny"):
        return engine.reask(ctx, "dialogue.resumed")
    return invalid(ctx, "")


def invalid(ctx: Context, hint: str) -> list[Reply]:
    """An answer that does not fit: say why and ask again; every third time offer an officer."""
    active = ctx.active
    assert active is not None
    active["invalid"] = int(active.get("invalid", 0)) + 1
    ctx.touch()
    replies = engine.reask(ctx, hint)
    if active["invalid"] % engine.INVALID_BEFORE_HUMAN == 0:
        replies.append(
            Reply.say(
                text("dialogue.offer_human"),
                Button(text("dialogue.menu_human"), payload("request_human")),
                Button(text("dialogue.button_cancel"), payload("cancel")),
            )
        )
    return replies


def offer_resume(ctx: Context, *, greet: bool = False) -> list[Reply]:
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    ctx.state["resume_offered"] = True
    started = _parse_time(active.get("started_at")) or ctx.now
    day = _agency().local(started).strftime("%d/%m/%Y")
    message = text("dialogue.resume_offer", title=flow.title, date=day)
    replies = [Reply.say(text("dialogue.welcome_back"))] if greet else []
    return [
        *replies,
        Reply.say(
            message,
            Button(text("dialogue.button_resume"), payload("resume")),
            Button(text("dialogue.button_restart"), payload("restart")),
            Button(text("dialogue.button_cancel"), payload("cancel")),
        ),
    ]


def cancel(ctx: Context) -> list[Reply]:
    flow = ctx.flow
    if flow is None:
        return [menu(text("dialogue.nothing_to_cancel"))]
    ctx.end_flow()
    log.info("flow cancelled conversation=%s flow=%s", ctx.turn.conversation.id, flow.name)
    return [menu(text("dialogue.cancelled", title=flow.title))]


# ---------------------------------------------------------------- outside a flow


def by_intent(ctx: Context, heard: Understanding) -> list[Reply]:
    """Entry points: what the citizen wants when no flow question is pending (or a fallback asks)."""
    conv = ctx.turn.conversation
    expect = ctx.state.pop("expect", None)
    intent = heard.intent
    if (
        isinstance(expect, dict)
        and not heard.from_button
        and (
            heard.confidence < CONFIDENT
            or intent in (*VAGUE, "ask_procedure", "submit_dossier", expect.get("intent"))
        )
    ):
        procedure = _procedure_of(ctx, heard, context=None, strict=True)
        if procedure:
            intent = str(expect["intent"])
            heard.entities["procedure"] = procedure
            heard.confidence = max(heard.confidence, CONFIDENT)
    if heard.procedure and (heard.confidence < CONFIDENT or intent in VAGUE):
        intent = "ask_procedure"  # "đăng ký kết hôn": a procedure named without a clear question
        heard.confidence = CONFIDENT
    if heard.confidence < CONFIDENT or intent == "out_of_scope":
        return not_understood(ctx)
    conv.failed_understanding = 0
    if intent == "greet":
        if ctx.active is not None:
            return offer_resume(ctx, greet=True)
        return welcome(ctx)
    if intent in ("goodbye", "thank"):
        return [Reply.say(text(f"dialogue.{intent}"))]
    if intent in ("affirm", "deny"):
        return [menu(text("dialogue.anything_else"))]
    if intent == "bot_challenge":
        return [Reply.say(text("dialogue.bot_challenge", agency=_agency().name))]
    if intent in SIDE_QUESTIONS:
        return answer_question(ctx, intent, heard, context=ctx.state.get("last_procedure"))
    if intent == "submit_dossier":
        return submit_dossier(ctx, heard)
    if intent == "check_status":
        return check_status(ctx, heard)
    if intent == "supplement_dossier":
        slots = {"dossier_code": heard.entities["dossier_code"]} if heard.entities.get("dossier_code") else {}
        return start_flow(ctx, "supplement_dossier", slots)
    if intent == "request_human":
        return start_flow(ctx, "handoff")
    if intent == "complaint":
        said = heard.text.strip()
        long_enough = not heard.from_button and len(said.split()) >= COMPLAINT_WORDS
        return start_flow(ctx, "complaint", {"complaint_text": said} if long_enough else {})
    if intent == "delete_data":
        return start_flow(ctx, "delete_data")
    if intent == "cancel":
        return cancel(ctx)
    return not_understood(ctx)


def not_understood(ctx: Context) -> list[Reply]:
    """ "Em chưa hiểu" with the menu; the second time in a row an officer takes over."""
    conv = ctx.turn.conversation
    conv.failed_understanding = int(conv.failed_understanding or 0) + 1
    if conv.failed_understanding >= 2:
        conv.failed_understanding = 0
        return handoff(ctx, "not_understood")
    ctx.reading["outcome"] = "fallback"
    return [menu(text("dialogue.not_understood"))]


def welcome(ctx: Context) -> list[Reply]:
    return [menu(text("dialogue.welcome"))]


def menu(message: str) -> Reply:
    return Reply.say(
        message,
        Button(text("dialogue.menu_ask"), payload("ask_procedure")),
        Button(text("dialogue.menu_submit"), payload("submit_dossier")),
        Button(text("dialogue.menu_status"), payload("check_status")),
        Button(text("dialogue.menu_human"), payload("request_human")),
    )


def _procedure_of(
    ctx: Context, heard: Understanding, *, context: str | None, strict: bool = False
) -> str | None:
    """The procedure meant: the entity, else the conversation's context when the message names no other,
    else (strict) the one clear candidate."""
    if heard.procedure:
        return heard.procedure
    codes = [c.code for c in heard.candidates]
    if context and (context in codes or not codes):
        return context
    if strict and len(codes) == 1:
        return codes[0]
    return None


def answer_question(ctx: Context, intent: str, heard: Understanding, *, context: str | None) -> list[Reply]:
    """ask_procedure / ask_documents / ask_fee / ask_duration / ask_office from the catalogue."""
    from bot.catalog import answers

    agency = _agency()
    if intent == "ask_office":
        return [Reply.say(agency.office_text(ctx.now))]
    catalog = _catalog()
    if heard.entities.get("field"):  # a field button of "which procedure?"
        ctx.state["expect"] = {"intent": intent}
        return [answers.field_procedures(heard.entities["field"], catalog, agency.accepted_procedures)]
    code = _procedure_of(ctx, heard, context=context)
    procedure = catalog.get(code) if code else None
    if procedure is not None:
        ctx.state["last_procedure"] = ctx.state["last_asked"] = procedure.code
        return answers.answer(intent, procedure, agency.accepted_procedures)
    ctx.state["expect"] = {"intent": intent}
    if heard.candidates:
        return [answers.disambiguate(list(heard.candidates), intent=intent, catalog=catalog)]
    return [answers.ask_which_procedure()]


def submit_dossier(ctx: Context, heard: Understanding) -> list[Reply]:
    """Start the procedure's flow when the centre takes it through the chat, else say how to do it."""
    from bot.catalog import answers
    from flows.loader import flow_for_procedure

    agency = _agency()
    # "em muốn nộp hồ sơ luôn" right after asking about a procedure means that one.
    code = _procedure_of(ctx, heard, context=ctx.state.pop("last_asked", None), strict=True)
    if not code:
        ctx.state["expect"] = {"intent": "submit_dossier"}
        if heard.candidates:
            buttons = [
                Button(c.name[:60], payload("submit_dossier", procedure=c.code)) for c in heard.candidates[:3]
            ]
            return [Reply.say(text("dialogue.submit_which_candidate"), *buttons)]
        return [Reply.say(text("dialogue.submit_which")), *_submit_choices(ctx)]
    ctx.state["last_procedure"] = code
    flow = flow_for_procedure(code, str(ctx.turn.services.settings.data_dir / "flows"))
    procedure = _catalog().get(code)
    if flow is None or not agency.accepts(code):
        if procedure is None:
            return [menu(text("dialogue.submit_unknown"))]
        return [
            Reply.say(text("dialogue.submit_not_here")),
            *answers.answer("ask_procedure", procedure, agency.accepted_procedures),
        ]
    return start_flow(ctx, flow.name)


def _submit_choices(ctx: Context) -> list[Reply]:
    """Buttons for the most used procedures the centre accepts in the chat."""
    from flows.generate import FLOW_NAMES

    agency = _agency()
    order = list(FLOW_NAMES)
    flows = sorted(
        (f for f in ctx.flows.values() if f.procedure and agency.accepts(f.procedure)),
        key=lambda f: order.index(f.procedure) if f.procedure in order else len(order),
    )
    buttons = [
        Button(f.title, payload("submit_dossier", procedure=f.procedure)) for f in flows[: engine.MAX_BUTTONS]
    ]
    return engine.chunk_buttons(text("dialogue.submit_examples"), buttons) if buttons else []


def check_status(ctx: Context, heard: Understanding) -> list[Reply]:
    from bot.dossier import find_code

    code = heard.entities.get("dossier_code") or find_code(heard.text or "")
    return start_flow(ctx, "check_status", {"dossier_code": code} if code else {})


def start_flow(ctx: Context, name: str, slots: dict[str, Any] | None = None) -> list[Reply]:
    """Start a shared flow; status, complaints and handoffs hand an interrupted dossier back afterwards."""
    flow = ctx.flows[name]
    if (
        ctx.active is not None
        and name in SUSPENDING_FLOWS
        and ctx.flow
        and ctx.flow.name not in SUSPENDING_FLOWS
    ):
        ctx.state["suspended"] = ctx.state["active"]
    elif name not in SUSPENDING_FLOWS:
        ctx.state.pop("suspended", None)
    return engine.start(ctx, flow, slots)


def _restore_suspended(ctx: Context) -> list[Reply]:
    suspended = ctx.state.get("suspended")
    if ctx.active is not None or not isinstance(suspended, dict):
        return []
    ctx.state["active"] = ctx.state.pop("suspended")
    step = ctx.step
    if step is None or ctx.turn.conversation.mode != "bot":
        return []
    return engine.reask(ctx, "dialogue.back_to_flow")


# ---------------------------------------------------------------- handoff, drafts, time


def handoff(ctx: Context, reason: str) -> list[Reply]:
    """An officer takes over: the bot stays silent until staff hand the conversation back."""
    conv = ctx.turn.conversation
    conv.mode = "waiting_human"
    conv.handoff_reason = reason
    conv.handoff_since = ctx.now
    ctx.reading["outcome"] = f"handoff_{reason}"
    log.info("handoff conversation=%s reason=%s", conv.id, reason)
    return [handoff_notice(_agency(), ctx.now, reason)]


def _expire_draft(ctx: Context) -> list[Reply]:
    active, flow = ctx.active, ctx.flow
    if active is None:
        return []
    updated = _parse_time(active.get("updated_at"))
    ttl = timedelta(days=ctx.turn.services.settings.draft_ttl_days)
    if flow is None or (updated is not None and ctx.now - updated > ttl):
        ctx.end_flow()
        ctx.state.pop("suspended", None)
        log.info("draft expired conversation=%s", ctx.turn.conversation.id)
        return [
            Reply.say(
                text(
                    "dialogue.draft_expired",
                    title=flow.title if flow else "",
                    days=ctx.turn.services.settings.draft_ttl_days,
                )
            )
        ]
    return []


def _idle(ctx: Context) -> bool:
    active = ctx.active
    updated = _parse_time(active.get("updated_at")) if active else None
    return updated is not None and ctx.now - updated >= IDLE


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # the engine writes UTC


def _agency() -> Agency:
    return Agency.load()


def preload(data_dir: Path) -> None:
    """Read the catalogue, flows, templates and agency file now, so the first citizen does not wait ~2 s."""
    _catalog()
    _agency()
    engine.load_flows(str(data_dir / "flows"))
    text("dialogue.disclosure", agency=_agency().name)


def _catalog() -> Catalog:
    return Catalog.load()
