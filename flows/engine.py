"""The flow engine: walks a loaded `Flow` step by step over `conversation.state`.

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

import copy
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.messages import Attachment, Button, Inbound, Reply
from bot.templates import text
from bot.turn import Turn
from flows.loader import load_flows
from flows.steps import Action, Collect, Confirm, ConsentStep, Documents, Flow, Handoff, Say, Step, Submit
from nlu.text import fold

log = logging.getLogger(__name__)

MAX_BUTTONS = 5  # Zalo shows at most five buttons per message; more go into another message
INVALID_BEFORE_HUMAN = 3
DONE_WORDS = {"xong", "da xong", "het", "het roi", "du roi", "xong roi", "done", "hoan thanh", "khong con"}
NONE_WORDS = {"khong co", "khong ap dung", "khong", "khong can", "chua co"}
YES_WORDS = {
    "co",
    "dong y",
    "ok",
    "oke",
    "u",
    "uh",
    "vang",
    "da",
    "da dong y",
    "toi dong y",
    "yes",
    "dung",
    "dung roi",
    "nop",
    "nop ho so",
    "xac nhan",
    "chinh xac",
    "dong y nop",
}
NO_WORDS = {"khong", "khong dong y", "ko dong y", "tu choi", "no", "thoi"}
SKIP_WORDS = {"bo qua", "bỏ qua", "skip"}


def payload(name: str, **args: Any) -> str:
    """A button payload: "/<name>" plus a JSON object when it carries values."""
    return f"/{name}" + (json.dumps(args, ensure_ascii=False, separators=(",", ":")) if args else "")


def parse_payload(raw: str | None) -> tuple[str, dict[str, Any]] | None:
    """'/ask_fee{"procedure":"1.001193"}' -> ("ask_fee", {...}); None when it is not a payload."""
    if not raw or not raw.startswith("/"):
        return None
    body = raw[1:].strip()
    name, _, rest = body.partition("{")
    name = name.strip()
    if not name or not name.replace("_", "").isalnum():
        return None
    args: dict[str, Any] = {}
    if rest:
        try:
            loaded = json.loads("{" + rest)
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        args = loaded
    return name, args


def action_of(inbound: Inbound) -> tuple[str, dict[str, Any]] | None:
    """The button the citizen pressed (payload, or payload text typed/sent back as text), if any."""
    from bot.consent import CONSENT_NO, CONSENT_YES

    for raw in (inbound.payload, inbound.text.strip()):
        if raw == CONSENT_YES:
            return "consent", {"value": "yes"}
        if raw == CONSENT_NO:
            return "consent", {"value": "no"}
        parsed = parse_payload(raw)
        if parsed:
            return parsed
    return None


def chunk_buttons(message: str, buttons: list[Button]) -> list[Reply]:
    """One reply with the text and the first buttons, more replies for the rest (platform limits)."""
    if not buttons:
        return [Reply.say(message)]
    out = [Reply.say(message, *buttons[:MAX_BUTTONS])]
    rest = buttons[MAX_BUTTONS:]
    while rest:
        out.append(Reply.say(text("dialogue.more_choices"), *rest[:MAX_BUTTONS]))
        rest = rest[MAX_BUTTONS:]
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class Answer:
    """What the pending step made of the citizen's message."""

    ok: bool
    replies: list[Reply] = field(default_factory=list)
    hint: str = ""  # template key (or text) explaining what was wrong when not ok


class Context:
    """One turn's view of the dialogue state; `save()` writes it back as a new dict."""

    def __init__(self, turn: Turn, flows: dict[str, Flow] | None = None) -> None:
        self.turn = turn
        self.intent: str | None = None  # what the NLU (or a button) said this message was, for the transcript
        self.reading: dict[str, Any] = {}  # with it: confidence, procedure, outcome (bot.turn.note_intent)
        self.state: dict[str, Any] = copy.deepcopy(dict(turn.conversation.state or {}))
        self.flows = (
            flows if flows is not None else load_flows(str(turn.services.settings.data_dir / "flows"))
        )

    @property
    def now(self) -> datetime:
        return self.turn.now

    @property
    def active(self) -> dict[str, Any] | None:
        active = self.state.get("active")
        return active if isinstance(active, dict) else None

    @property
    def flow(self) -> Flow | None:
        active = self.active
        return self.flows.get(active["flow"]) if active else None

    @property
    def step(self) -> Step | None:
        flow, active = self.flow, self.active
        if flow is None or active is None or not active.get("step"):
            return None
        try:
            return flow.step(active["step"])
        except KeyError:
            return None

    def touch(self) -> None:
        if self.active is not None:
            self.active["updated_at"] = self.now.isoformat()

    def end_flow(self) -> None:
        self.state["active"] = None
        self.state.pop("resume_offered", None)

    def save(self) -> None:
        # A new dict, so the JSON column sees the change.
        self.turn.conversation.state = _jsonable(copy.deepcopy(self.state))


# ---------------------------------------------------------------- starting and moving forward


def start(ctx: Context, flow: Flow, slots: dict[str, Any] | None = None) -> list[Reply]:
    """Begin `flow` (replacing any other), prefilled with `slots`, and run it to its first question."""
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


def answered(ctx: Context, step: Step) -> bool:
    active = ctx.active or {}
    if isinstance(step, Collect):
        return step.id in active.get("slots", {})
    if isinstance(step, Documents):
        return step.id in active.get("docs", {})
    if isinstance(step, Say):
        return step.id in active.get("said", [])
    if isinstance(step, ConsentStep):
        from bot.consent import has_consent

        return has_consent(ctx.turn.session, ctx.turn.conversation, consent_purpose(ctx))
    return False


def consent_purpose(ctx: Context) -> str:
    """Consent is asked and recorded per purpose: one per flow (the purpose text names it)."""
    flow = ctx.flow
    return f"flow:{flow.name}" if flow else "dossier"


def advance(ctx: Context, index: int) -> list[Reply]:
    """Run steps from `index` until one waits for the citizen (asked) or the flow ends."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    replies: list[Reply] = []
    slots = active["slots"]
    for step in flow.steps[index:]:
        if not step.applies(slots) or answered(ctx, step):
            continue
        if isinstance(step, Say):
            replies.append(Reply.say(_say_text(step.text)))
            active["said"].append(step.id)
            continue
        if step.waits:
            active["step"] = step.id
            active["invalid"] = 0
            ctx.touch()
            return replies + prompt(ctx, step)
        active["step"] = step.id
        result = run_step(ctx, step)
        replies += result.replies
        if not result.ok or ctx.active is not active:  # stopped, or the step ended/replaced the flow
            return replies
    ctx.end_flow()
    return replies


def _say_text(value: str) -> str:
    from bot.templates import has

    return text(value) if has(value) else value


def next_after(ctx: Context, step: Step) -> list[Reply]:
    """The current step was answered: remember it for going back and move on."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    history = active["history"]
    if step.id not in history:
        history.append(step.id)
    return advance(ctx, flow.index(step.id) + 1)


def run_step(ctx: Context, step: Step) -> Answer:
    """Steps that do something instead of asking: submit, handoff, action."""
    if isinstance(step, Submit):
        replies = submit(ctx)
        return Answer(ctx.active is None, replies)
    if isinstance(step, Handoff):
        from flows.dialogue import handoff

        replies = handoff(ctx, step.reason)
        ctx.end_flow()
        return Answer(False, replies)
    if isinstance(step, Action):
        from flows.actions import ACTIONS

        return ACTIONS[step.name](ctx, step)
    raise TypeError(f"step {step.id} of type {step.type} does not run on its own")


# ---------------------------------------------------------------- questions


def prompt(ctx: Context, step: Step, *, again: bool = False) -> list[Reply]:
    """The question of a waiting step (again=True when re-asking after something else)."""
    if isinstance(step, ConsentStep):
        from bot.agency import Agency
        from bot.consent import consent_prompt

        return [consent_prompt(Agency.load(), ctx.turn.services.settings, step.purpose)]
    if isinstance(step, Collect):
        buttons = [Button(o, payload("choose", value=o)) for o in step.options]
        known = (ctx.turn.conversation.profile or {}).get(step.id)
        if isinstance(known, dict) and not step.options and known.get("display"):
            # Given for an earlier dossier (with consent): one tap to reuse it.
            buttons.append(Button(str(known["display"])[:60], payload("choose", value=str(known["display"]))))
        if step.optional:
            buttons.append(Button(text("dialogue.button_skip"), payload("skip")))
        return chunk_buttons(step.ask, buttons)
    if isinstance(step, Documents):
        return [_document_prompt(ctx, step)]
    if isinstance(step, Confirm):
        return confirm_summary(ctx)
    return []


def _document_prompt(ctx: Context, step: Documents, *, received: int = 0) -> Reply:
    types = ", ".join(a.upper() for a in step.accept)
    count = (
        text("dialogue.document_count_one")
        if step.max_count == 1
        else text("dialogue.document_count_range", low=step.min_count, high=step.max_count)
    )
    ask = step.ask or text("dialogue.document_ask", label=step.label)
    message = text("dialogue.document_rules", ask=ask, types=types, max_mb=step.max_mb, count=count)
    buttons = []
    if received >= step.min_count and step.max_count > 1:
        buttons.append(Button(text("dialogue.button_done"), payload("done")))
    if step.none_answer:
        buttons.append(Button(step.none_answer, payload("none")))
    return Reply.say(message, *buttons)


def reask(ctx: Context, hint: str = "") -> list[Reply]:
    """Say what was wrong (template key or text) and ask the pending question again."""
    step = ctx.step
    if step is None:
        return []
    replies: list[Reply] = []
    if hint:
        from bot.templates import has

        replies.append(Reply.say(text(hint) if has(hint) else hint))
    return replies + prompt(ctx, step, again=True)


# ---------------------------------------------------------------- answers


def answer(ctx: Context, inbound: Inbound, action: tuple[str, dict[str, Any]] | None) -> Answer:
    """Try the citizen's message as the answer to the pending step (no NLU here)."""
    step = ctx.step
    if step is None:
        return Answer(False, hint="dialogue.no_question")
    if isinstance(step, ConsentStep):
        return _answer_consent(ctx, step, inbound, action)
    if isinstance(step, Collect):
        return _answer_collect(ctx, step, inbound, action)
    if isinstance(step, Documents):
        return _answer_documents(ctx, step, inbound, action)
    if isinstance(step, Confirm):
        return _answer_confirm(ctx, step, inbound, action)
    return Answer(False)


def _choice_value(action: tuple[str, dict[str, Any]] | None) -> str | None:
    if action and action[0] in ("choose", "consent") and "value" in action[1]:
        return str(action[1]["value"])
    return None


def _answer_consent(
    ctx: Context, step: ConsentStep, inbound: Inbound, action: tuple[str, dict[str, Any]] | None
) -> Answer:
    from bot.consent import record

    said = _choice_value(action)
    folded = fold(inbound.text)
    if said == "yes" or (said is None and folded in YES_WORDS):
        record(ctx.turn.session, ctx.turn.conversation, True, ctx.now, purpose=consent_purpose(ctx))
        return Answer(True, [Reply.say(text("dialogue.consent_thanks")), *next_after(ctx, step)])
    if said == "no" or (said is None and folded in NO_WORDS):
        record(ctx.turn.session, ctx.turn.conversation, False, ctx.now, purpose=consent_purpose(ctx))
        flow = ctx.flow
        ctx.end_flow()
        return Answer(
            True,
            [
                Reply.say(
                    text("dialogue.consent_refused", title=flow.title if flow else "", office=_office_text())
                )
            ],
        )
    return Answer(False, hint="dialogue.consent_hint")


def _office_text() -> str:
    from bot.agency import Agency

    return Agency.load().office_text()


def validate(ctx: Context, step: Collect, raw: str) -> tuple[bool, Any, str, str]:
    """(ok, value, display, hint) for `raw` by the step's kind."""
    if step.kind == "dossier_code":
        from bot.dossier import find_code

        code = find_code(raw)
        return (True, code, code, "") if code else (False, None, "", "dialogue.hint_dossier_code")
    from flows.validators import validate as check

    rules = dict(step.rules)
    if step.kind == "choice":
        rules["options"] = list(step.options)
    result = check(step.kind, raw, now=ctx.now, **rules)
    display = str(result.display if result.display is not None else result.value or "")
    return bool(result.ok), _jsonable(result.value), display, result.hint()


def _answer_collect(
    ctx: Context, step: Collect, inbound: Inbound, action: tuple[str, dict[str, Any]] | None
) -> Answer:
    if (action and action[0] == "skip") or (
        not action and fold(inbound.text) in {fold(w) for w in SKIP_WORDS}
    ):
        if step.optional:
            return _store(ctx, step, None, text("dialogue.skipped"))
        return Answer(False, hint="dialogue.not_optional")
    raw = _choice_value(action)
    if raw is None:
        if action is not None or not inbound.text.strip():
            return Answer(False, hint=step.hint or "dialogue.hint_text_expected")
        raw = inbound.text.strip()
    ok, value, display, hint = validate(ctx, step, raw)
    if not ok:
        return Answer(False, hint=hint or step.hint or "dialogue.hint_invalid")
    return _store(ctx, step, value, display)


def _store(ctx: Context, step: Collect, value: Any, display: str) -> Answer:
    active = ctx.active
    assert active is not None
    active["slots"][step.id] = value
    active["display"][step.id] = display
    return Answer(True, next_after(ctx, step))


def _answer_documents(
    ctx: Context, step: Documents, inbound: Inbound, action: tuple[str, dict[str, Any]] | None
) -> Answer:
    active = ctx.active
    assert active is not None
    pending = active.setdefault("pending_files", [])
    folded = fold(inbound.text)
    if inbound.attachments:
        return _receive_files(ctx, step, inbound.attachments)
    name = action[0] if action else None
    if name == "none" or (name is None and folded in NONE_WORDS):
        if not step.none_answer:
            return Answer(False, hint=text("dialogue.document_required", label=step.label))
        if pending:
            return Answer(False, hint=text("dialogue.document_none_after_files", label=step.label))
        active["docs"][step.id] = {"files": [], "none": True}
        return Answer(True, next_after(ctx, step))
    if name == "done" or (name is None and folded in DONE_WORDS):
        if len(pending) < step.min_count:
            return Answer(
                False,
                hint=text(
                    "dialogue.document_need_more", label=step.label, missing=step.min_count - len(pending)
                ),
            )
        return Answer(True, _finish_item(ctx, step))
    return Answer(False, hint=text("dialogue.document_expected", label=step.label))


def _receive_files(ctx: Context, step: Documents, attachments: tuple[Attachment, ...]) -> Answer:
    """Download, check (type by content, size) and store each file for the pending checklist item."""
    from bot.document import Refusal, intake

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
            stored = intake(
                ctx.turn.session,
                settings,
                attachment,
                ctx.turn.conversation,
                accept=step.content_types,
                max_bytes=step.max_mb * 1024 * 1024,
            )
        except Refusal as refusal:
            log.info("file refused conversation=%s reason=%s", ctx.turn.conversation.id, refusal.reason)
            refusals.append(refusal.message())
            continue
        pending.append(stored.id)
    replies = [Reply.say(r) for r in dict.fromkeys(refusals)]
    if len(pending) >= step.max_count:
        return Answer(True, [*replies, *_finish_item(ctx, step)])
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


def _finish_item(ctx: Context, step: Documents) -> list[Reply]:
    active = ctx.active
    assert active is not None
    files = list(active.pop("pending_files", []))
    active["docs"][step.id] = {"files": files, "none": False}
    ack = Reply.say(text("dialogue.document_item_done", label=step.label, count=len(files)))
    return [ack, *next_after(ctx, step)]


# ---------------------------------------------------------------- confirmation and correction


def confirm_summary(ctx: Context) -> list[Reply]:
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
            shown = (
                step.none_answer
                if doc.get("none")
                else text("dialogue.confirm_files", count=len(doc["files"]))
            )
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


def _editable(ctx: Context) -> list[Collect | Documents]:
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    return [
        s
        for s in flow.fields
        if s.applies(active["slots"]) and (s.id in active["slots"] or s.id in active["docs"])
    ]


def edit_choices(ctx: Context) -> list[Reply]:
    """Numbered fields (a platform that cuts button titles still shows the list) and one button each."""
    fields = _editable(ctx)
    lines = [text("dialogue.edit_which")] + [f"{n}. {s.label}" for n, s in enumerate(fields, 1)]
    buttons = [
        Button(text("dialogue.button_edit_field", label=f"{n}. {s.label}"), payload("edit", field=s.id))
        for n, s in enumerate(fields, 1)
    ]
    return chunk_buttons("\n".join(lines), buttons)


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
    active["slots"].pop(step.id, None)
    active["display"].pop(step.id, None)
    active["docs"].pop(step.id, None)
    active.pop("pending_files", None)
    active["step"] = step.id
    active["invalid"] = 0
    ctx.touch()
    return prompt(ctx, step)


def _match_field(ctx: Context, raw: str) -> str | None:
    """'sửa ngày sinh' -> the field whose label contains the words after "sửa"."""
    flow = ctx.flow
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


def answered_field(ctx: Context, raw: str) -> str | None:
    """The already answered field that "sửa <label>" names, if exactly one."""
    field_id = _match_field(ctx, raw)
    active = ctx.active or {}
    if field_id and (field_id in active.get("slots", {}) or field_id in active.get("docs", {})):
        return field_id
    return None


def _answer_confirm(
    ctx: Context, step: Confirm, inbound: Inbound, action: tuple[str, dict[str, Any]] | None
) -> Answer:
    if action and action[0] == "edit":
        return Answer(True, edit(ctx, str(action[1].get("field") or "")))
    value = _choice_value(action)
    folded = fold(inbound.text)
    if value == "submit" or (value is None and not action and folded in YES_WORDS):
        return Answer(True, next_after(ctx, step))
    if value == "edit" or (not action and folded in {"sua", "sua lai", "sua thong tin", "chinh sua"}):
        return Answer(True, edit_choices(ctx))
    field_id = _match_field(ctx, inbound.text) if not action else None
    number = folded.removeprefix("sua ").strip()
    if not field_id and not action and number.isdigit():  # "3" or "sửa 3" from the numbered list
        fields = _editable(ctx)
        field_id = fields[int(number) - 1].id if 1 <= int(number) <= len(fields) else None
    if field_id:
        return Answer(True, edit(ctx, field_id))
    return Answer(False, hint="dialogue.confirm_hint")


# ---------------------------------------------------------------- going back, submitting


def back(ctx: Context) -> list[Reply]:
    """Go back one question: forget its answer and ask it again."""
    active, flow = ctx.active, ctx.flow
    assert active is not None and flow is not None
    history: list[str] = active["history"]
    while history:
        target = flow.step(history.pop())
        if isinstance(target, Collect | Documents) and target.applies(active["slots"]):
            active.pop("pending_files", None)
            active["slots"].pop(target.id, None)
            active["display"].pop(target.id, None)
            active["docs"].pop(target.id, None)
            active["step"] = target.id
            active["invalid"] = 0
            ctx.touch()
            return [Reply.say(text("dialogue.going_back")), *prompt(ctx, target)]
    return reask(ctx, "dialogue.cannot_go_back")


# Answers worth offering again in the citizen's next dossier (the applicant, not the other people named).
REMEMBERED = ("applicant_name", "applicant_id_number", "phone")


def remember(ctx: Context, flow: Flow, active: dict[str, Any]) -> None:
    """Keep the applicant's own details in the profile (erased with "xóa dữ liệu của tôi")."""
    profile = dict(ctx.turn.conversation.profile or {})
    for slot in REMEMBERED:
        if active["slots"].get(slot):
            profile[slot] = {"display": active["display"].get(slot) or str(active["slots"][slot])}
    ctx.turn.conversation.profile = profile


def submit(ctx: Context) -> list[Reply]:
    """Create the dossier from what was collected; the flow ends with the receipt."""
    from bot.agency import Agency
    from bot.catalog.store import Catalog
    from bot.dossier import LABELS_KEY, DocumentEntry, SubmissionError, receipt
    from bot.dossier import submit as create

    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None and flow.procedure
    applicant: dict[str, Any] = {}
    labels: dict[str, str] = {}
    documents: list[DocumentEntry] = []
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
            documents += [DocumentEntry(item=step.label, file_id=int(f)) for f in doc.get("files", [])]
    applicant[LABELS_KEY] = labels
    catalog = Catalog.load()
    try:
        with ctx.turn.session.begin_nested():
            dossier = create(
                ctx.turn.session,
                conversation=ctx.turn.conversation,
                procedure_code=flow.procedure,
                applicant=applicant,
                documents=documents,
                now=ctx.now,
                agency=Agency.load(),
                catalog=catalog,
            )
    except SubmissionError as exc:
        # The draft stays; an officer finishes it (e.g. a procedure without a processing time).
        log.warning(
            "submission failed conversation=%s flow=%s: %s",
            ctx.turn.conversation.id,
            flow.name,
            type(exc).__name__,
        )
        from flows.dialogue import handoff

        confirm = flow.first("confirm")
        active["step"] = confirm.id if confirm else active["step"]
        return [Reply.say(text("dialogue.submit_failed")), *handoff(ctx, "request_human")]
    ctx.end_flow()
    ctx.state["last_dossier"] = dossier.code
    remember(ctx, flow, active)
    log.info("dossier submitted conversation=%s dossier=%s", ctx.turn.conversation.id, dossier.id)
    return list(receipt(dossier, catalog))
