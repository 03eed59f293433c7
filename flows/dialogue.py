"""The dialogue manager: one citizen message in, the bot's replies out.

Like a ConversationHandler: entry points (intents outside a flow), the state of the active flow
(its pending step answers first), and fallbacks that apply in every state (side questions, a
human, cancel, going back, "are you a bot?", erase my data), declared with their order of precedence in
`flows.interruptions`. The flows themselves are data. The NLU is asked only when the pending step cannot
take the message itself, at most once per turn (`Context.turn.parse`); `read_ahead` tells the turn runner
beforehand whether it will be, so the parse happens outside the database transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.address import asked_form
from bot.agency import Agency
from bot.catalog import answers
from bot.catalog.store import Catalog
from bot.dossier import find_code
from bot.insight import satisfaction
from bot.messages import Button, Inbound, Reply
from bot.services import Services
from bot.templates import text
from flows import engine, wishes
from flows.context import MAX_BUTTONS, Context, action_of, chunk_buttons, hand_to_staff, payload
from flows.courtesy import opening, request_text
from flows.generate import FLOW_NAMES
from flows.interruptions import PATTERNS, SIDE_QUESTIONS, control_word, interrupts, may_be_a_request
from flows.kinds import notify as notice
from flows.loader import flow_for_procedure
from flows.steps import Step
from flows.turn import Needs, Turn
from nlu.client import Candidate, NLUUnavailable

log = logging.getLogger(__name__)

CONFIDENT = 0.5  # below this the NLU guess is treated as "not understood"
GREET_SURE = 0.8
VAGUE = ("affirm", "deny", "out_of_scope")  # intents that say nothing when a procedure is named
CANDIDATE_MIN = 0.65  # procedure candidates scored lower are noise ("phí bao nhiêu?" names none)
ENGINE_ACTIONS = ("choose", "consent", "edit", "skip", "done", "none", "back", "resume", "restart", "card")
IDLE = timedelta(minutes=30)
COMPLAINT_WORDS = 8  # a complaint this long already says what happened: no need to ask for it
# Intents a wish to submit never overrides ("tôi muốn nộp bổ sung hồ sơ khai sinh" is a supplement).
NOT_A_WISH = ("check_status", "supplement_dossier", "complaint", "request_human", "delete_data", "cancel",
              "bot_challenge")
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
    """The NLU's reading of the citizen's message (fetched at most once per turn, see flows.turn)."""
    parse = ctx.turn.parse()
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
    ctx = Context(turn, engine.load_flows(str(turn.services.settings.data_dir / "flows")))
    replies: list[Reply] = []
    if not ctx.state.get("disclosed"):
        replies.append(Reply.say(text("dialogue.disclosure", agency=_agency().name)))
        ctx.state["disclosed"] = True
    try:
        replies += route(ctx)
    except NLUUnavailable:
        if turn.wait_for_nlu:
            raise  # the worker puts the event back and retries: an answer beats the busy menu
        log.warning("nlu unavailable conversation=%s", turn.conversation.id)
        if ctx.step is not None:  # buttons and valid answers still work: ask the pending question again
            replies += engine.reask(ctx, "dialogue.nlu_down_in_flow")
        else:
            replies += without_nlu(ctx)
    replies += _restore_suspended(ctx)
    ctx.save()
    _note_intent(ctx)
    return replies


def _note_intent(ctx: Context) -> None:
    """Write the understood intent on the citizen's message in the transcript (staff, analytics)."""
    action = action_of(ctx.turn.inbound)
    intent = ctx.intent or (action[0] if action else None)
    if intent:
        ctx.turn.transcript.note_intent(intent, **ctx.reading)


def route(ctx: Context) -> list[Reply]:
    inbound = ctx.turn.inbound
    if inbound.kind == "unfollow":
        return []
    replies = _expire_draft(ctx)
    if inbound.kind == "follow":
        return replies + welcome(ctx)
    action = action_of(inbound)
    if action and action[0] == satisfaction.ACTION:  # valid in any state: it asks nothing back
        return [*replies, satisfaction.answer(ctx.turn.session, ctx.turn.conversation, action[1], ctx.now)]
    if not action and (form := asked_form(inbound.text)):  # "gọi tôi là bác": in any state
        return replies + call_me(ctx, form)
    wanted = None if action else notice.requested(inbound.text)  # "dừng thông báo", "báo qua SMS"
    if wanted and (ctx.step is None or ctx.step.type != "notify"):
        return [*replies, *notice.change(ctx, wanted)]
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


def call_me(ctx: Context, form: str) -> list[Reply]:
    """The citizen says how to call them: kept for the conversation (bot.transcript applies it)."""
    ctx.state["address"] = form
    ctx.intent = "address_form"
    if ctx.step is not None:
        return [Reply.say(text("dialogue.address_set")), *engine.reask(ctx)]
    return [menu(text("dialogue.address_set_menu"))]


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
    control = control_word(inbound.text)
    if control == "back":
        return engine.back(ctx)
    if control is not None:  # "hủy", "gặp cán bộ": no need to ask the NLU
        ctx.intent = control
        return interruption(ctx, Understanding(control, 1.0, text=inbound.text))
    earlier = engine.answered_field(ctx, inbound.text)
    if earlier and not engine.corrects_fields(step):  # "sửa ngày sinh" before the summary: fix it, go on
        return engine.edit(ctx, earlier)
    idle = _idle(ctx)
    heard: Understanding | None = None
    if _may_be_a_request(step, inbound.text):
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
        # "đồng ý, nộp luôn" reads as submit_dossier: at the summary (never at the consent) it is this
        # dossier's Submit button, unless the words name another procedure.
        this_one = heard.procedure in (None, ctx.flow.procedure if ctx.flow else None)
        submits = step.type == "confirm" and heard.intent == "submit_dossier" and this_one
        intent = "affirm" if submits else heard.intent
        implied = engine.implied_by(step, intent) if heard.confidence >= CONFIDENT else None
        if implied is not None:  # "vâng ạ" at the consent: read as the button it stands for
            retry = engine.answer(ctx, inbound, implied)
            if retry.ok:
                return retry.replies
        if _is_interruption(ctx, heard, strict=False):
            return interruption(ctx, heard)
        if idle or heard.intent == "greet":
            return offer_resume(ctx, greet=heard.intent == "greet")
    elif idle:
        return offer_resume(ctx)
    return invalid(ctx, result.hint)


def _may_be_a_request(step: Step, message: str) -> bool:
    """A free-text answer the NLU must look at first: almost any words make a valid name or place, so one
    that reads like a question or a request ("tra cứu hồ sơ") may be one. Others are simply the answer."""
    return engine.free_text(step) and bool(message.strip()) and may_be_a_request(message)


def read_ahead(services: Services, state: dict[str, Any], inbound: Inbound, now: datetime) -> Needs:
    """What this message will need from the network, decided before the turn's transaction (pure).

    Follows `route` and `in_flow`: a button, a control word or an answer the pending step takes by itself
    needs no NLU parse; files for a document step are downloaded. A wrong guess costs a rerun, never a wrong
    answer (flows.turn).
    """
    if inbound.kind in ("follow", "unfollow") or action_of(inbound) is not None or asked_form(inbound.text):
        return Needs()
    flows = engine.load_flows(str(services.settings.data_dir / "flows"))
    active = state.get("active") if isinstance(state.get("active"), dict) else None
    flow = flows.get(str(active.get("flow"))) if active else None
    updated = _parse_time(active.get("updated_at")) if active else None
    if active is None or flow is None or (
            updated is not None and now - updated > timedelta(days=services.settings.draft_ttl_days)):
        return Needs(parse=bool(inbound.text.strip()) and not inbound.attachments)
    try:
        step = flow.step(str(active.get("step")))
    except KeyError:
        return Needs(parse=bool(inbound.text.strip()) and not inbound.attachments)
    if inbound.attachments:
        return Needs(downloads=engine.downloads(step, inbound))
    if not inbound.text.strip() or control_word(inbound.text) is not None:
        return Needs()
    if engine.answered_field_of(flow, active, inbound.text) and not engine.corrects_fields(step):
        return Needs()
    if _may_be_a_request(step, inbound.text):
        return Needs(parse=True)
    return Needs(parse=not engine.takes(flow, active, step, inbound, now))


def _is_interruption(ctx: Context, heard: Understanding, *, strict: bool) -> bool:
    """Typed words the NLU read as an interruption (`flows.interruptions.PATTERNS`); strict while they were
    also a valid free-text answer."""
    if heard.confidence < CONFIDENT:
        return False
    flow = ctx.flow
    if flow is not None and flow.name == heard.intent:  # "complaint" text inside the complaint flow
        return False
    return interrupts(heard.intent, heard.confidence, heard.text, free_text=strict)


def interruption(ctx: Context, heard: Understanding) -> list[Reply]:
    """Something other than an answer, in the middle of a flow: deal with it, then come back."""
    ctx.turn.conversation.failed_understanding = 0
    pattern = PATTERNS.get(heard.intent)
    return HANDLERS[pattern.handle](ctx, heard) if pattern else invalid(ctx, "")


def _side_question(ctx: Context, heard: Understanding) -> list[Reply]:
    flow = ctx.flow
    context = flow.procedure if flow else None
    answered = answer_question(ctx, heard.intent, heard, context=context)
    return answered + engine.reask(ctx, "dialogue.back_to_step")


def _submit_button(ctx: Context, heard: Understanding) -> list[Reply]:
    """A "Nộp hồ sơ" button under an earlier answer: this flow goes on, another waits until it ends."""
    flow = ctx.flow
    assert flow is not None
    if heard.procedure in (None, flow.procedure):
        return engine.reask(ctx, "dialogue.resumed")
    finish_first = Reply.say(text("dialogue.finish_first", title=flow.title),
                             Button(text("dialogue.button_cancel"), payload("cancel")))
    return [finish_first, *engine.reask(ctx)]


HANDLERS: dict[str, Callable[[Context, Understanding], list[Reply]]] = {
    "side_question": _side_question,
    "bot_challenge": lambda ctx, heard: [Reply.say(text("dialogue.bot_challenge", agency=_agency().name)),
                                         *engine.reask(ctx)],
    "cancel": lambda ctx, heard: cancel(ctx),
    "delete_data": lambda ctx, heard: start_flow(ctx, "delete_data"),
    "entry_point": lambda ctx, heard: by_intent(ctx, heard),
    "submit_button": _submit_button,
    "greet": lambda ctx, heard: offer_resume(ctx, greet=True),
    "resume": lambda ctx, heard: engine.reask(ctx, "dialogue.resumed"),
}


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
    answers_expected = False  # the message names the procedure the bot just asked for
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
            answers_expected = True
    # "làm giấy khai sinh" answering "lệ phí thủ tục nào ạ?" names the procedure asked about, no wish
    if (heard.procedure and not heard.from_button and not answers_expected and intent not in NOT_A_WISH
            and wishes.wants_to_submit(request_text(heard.text))):
        intent = "submit_dossier"  # "e muốn đăng ký khai sinh cho con": start it, do not describe it
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


def without_nlu(ctx: Context) -> list[Reply]:
    """The NLU is down and no question is pending (the degraded mode): read the request locally.

    The courtesy in front is set aside as always; a dossier code looks the dossier up, "gặp cán bộ" calls an
    officer, a procedure clearly named with the wish to submit starts its flow, with a question answers it
    (`flows.wishes`). Anything else gets the "busy" menu.
    """
    message = ctx.turn.inbound.text
    request = request_text(message)
    split = opening(message)
    ctx.reading["outcome"] = "degraded"
    if split.only_courtesy and split.courtesy[-1] == "thank":
        ctx.intent = "thank"
        return [Reply.say(text("dialogue.thank"))]
    code = find_code(request)
    if code:
        ctx.intent = "check_status"
        return start_flow(ctx, "check_status", {"dossier_code": code})
    if control_word(request) == "request_human":
        ctx.intent = "request_human"
        return start_flow(ctx, "handoff")
    named = wishes.procedure_named(request, ctx.turn.services.settings.data_dir) if request else None
    if named is None:
        return [menu(text("dialogue.nlu_down"))]
    procedure, score = named
    heard = Understanding("ask_procedure", CONFIDENT, {"procedure": procedure}, text=message)
    ctx.reading["procedure"] = (procedure, score)
    if wishes.wants_to_submit(request):
        ctx.intent = "submit_dossier"
        return submit_dossier(ctx, heard)
    asked = wishes.asks(request) or "ask_procedure"
    # "đăng ký kết hôn ở đâu": where this procedure is done is in its answer (the centre's address is not
    # the answer when another agency handles it)
    ctx.intent = "ask_procedure" if asked == "ask_office" else asked
    return answer_question(ctx, ctx.intent, heard, context=None)


def not_understood(ctx: Context) -> list[Reply]:
    """ "Em chưa hiểu" with the menu; the second time in a row an officer takes over."""
    conv = ctx.turn.conversation
    conv.failed_understanding = int(conv.failed_understanding or 0) + 1
    if conv.failed_understanding >= 2:
        conv.failed_understanding = 0
        return hand_to_staff(ctx, "not_understood")
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
    agency = _agency()
    catalog = _catalog()
    if intent == "ask_office":
        named = catalog.get(heard.procedure) if heard.procedure else None
        if named is not None:  # "nộp <thủ tục> ở đâu": where that procedure is taken, not only the centre
            ctx.state["last_procedure"] = ctx.state["last_asked"] = named.code
            return answers.where(named, agency)
        return [Reply.say(agency.office_text(ctx.now))]
    if heard.entities.get("field"):  # a field button of "which procedure?"
        ctx.state["expect"] = {"intent": intent}
        return [answers.field_procedures(heard.entities["field"], catalog, agency)]
    code = _procedure_of(ctx, heard, context=context)
    procedure = catalog.get(code) if code else None
    if procedure is not None:
        ctx.state["last_procedure"] = ctx.state["last_asked"] = procedure.code
        return answers.answer(intent, procedure, agency)
    ctx.state["expect"] = {"intent": intent}
    if heard.candidates:
        return [answers.disambiguate(list(heard.candidates), intent=intent, catalog=catalog)]
    return [answers.ask_which_procedure()]


def submit_dossier(ctx: Context, heard: Understanding) -> list[Reply]:
    """Start the procedure's flow when the centre takes it through the chat, else say how to do it."""
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
    elsewhere = procedure is not None and not answers.handled_here(procedure, agency)
    if flow is None or not agency.accepts(code) or elsewhere:
        if procedure is None:
            return [menu(text("dialogue.submit_unknown"))]
        # Another agency's procedure, or one this centre takes in person only: say where instead.
        return answers.where(procedure, agency, asked_to_submit=True)
    return start_flow(ctx, flow.name)


def _submit_choices(ctx: Context) -> list[Reply]:
    """Buttons for the most used procedures the centre accepts in the chat."""
    agency = _agency()
    order = list(FLOW_NAMES)
    flows = sorted(
        (f for f in ctx.flows.values() if f.procedure and agency.accepts(f.procedure)),
        key=lambda f: order.index(f.procedure) if f.procedure in order else len(order),
    )
    buttons = [
        Button(f.title, payload("submit_dossier", procedure=f.procedure)) for f in flows[: MAX_BUTTONS]
    ]
    return chunk_buttons(text("dialogue.submit_examples"), buttons) if buttons else []


def check_status(ctx: Context, heard: Understanding) -> list[Reply]:
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
        ctx.drop_card_photos(ctx.state.pop("suspended", None))
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


def _expire_draft(ctx: Context) -> list[Reply]:
    """Old drafts are expired by the maintenance job (bot/lifecycle.py); a turn meeting one first does it."""
    from bot import lifecycle

    active, flow = ctx.active, ctx.flow
    settings = ctx.turn.services.settings
    if active is None or (flow is not None
                          and not lifecycle.draft_is_stale(ctx.state, ctx.now, settings.draft_ttl_days)):
        return []
    lifecycle.close_draft(ctx.turn.session, settings, ctx.turn.conversation, lifecycle.end_draft(ctx.state),
                          flow.title if flow else "", in_reply_to=ctx.turn.inbound.message_id)
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
