"""Read `data/flows/*.yml` into typed `Flow`s, refusing a bad file with a message an officer can act on.

File format (one flow per file, named after it):

    flow: khai_sinh
    procedure: "1.001193"
    title: Đăng ký khai sinh
    steps:
      - consent
      - collect: child_name        # slot name
        type: person_name          # validator kind
        label: Họ tên của trẻ      # shown in the confirmation
        ask: Họ, chữ đệm và tên của cháu là gì ạ?
      - if: relationship == "Người khác"
        then: [ ...steps... ]
        else: [ ...steps... ]
      - document: birth_certificate
        label: Giấy chứng sinh
        accept: [jpeg, png, heic, pdf]
        max_mb: 10
        count: 1-2
        none: Không có             # answer allowed when the law allows it
        card_of: applicant         # a copy of this person's ID card (flows.card): their card photo is filed
      - confirm
      - submit
    checks:                        # cross-field rules (flows.checks), after the steps
      - id: tuoi_nam
        require: age(husband_birth_date) >= 20
        say: Nam phải từ đủ 20 tuổi ...

A flow that submits a dossier gets one step the file does not write: `notify` (how the citizen wants to be
told of status changes, flows/kinds/notify.py), just before its confirm.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import DATA_DIR
from bot.handoff import REASONS as HANDOFF_REASONS
from flows.actions import ACTIONS
from flows.card import card_copy_problem, with_cards
from flows.steps import (
    CONTENT_TYPES,
    Action,
    Check,
    Collect,
    Comparison,
    Condition,
    Confirm,
    ConsentStep,
    Documents,
    Flow,
    Handoff,
    NotifyStep,
    Say,
    Step,
    Submit,
    Term,
)

# Value kinds a collect step may use: flows.validators kinds plus the engine's dossier_code.
KINDS = ("text", "person_name", "id_number", "phone", "date", "choice", "address", "ethnicity", "nationality",
         "dossier_code")
# What a flow file may leave out (flows/generate.py does not write these).
DEFAULTS: dict[str, dict[str, Any]] = {
    "collect": {"type": "text"},
    "document": {"accept": list(CONTENT_TYPES), "max_mb": 10, "count": 1},
}
_SLOT = re.compile(r"^[a-z][a-z0-9_]*$")
_COND = re.compile(
    r"""^\s*(?:(?P<not>not)\s+(?P<neg>[a-z][a-z0-9_]*)
        |(?P<slot>[a-z][a-z0-9_]*)\s*(?:(?P<op>==|!=|not\s+in|in)\s*(?P<rhs>.+))?)\s*$""",
    re.VERBOSE,
)


_TERM = re.compile(
    r"^\s*(?:age\(\s*(?P<age>[a-z][a-z0-9_]*)\s*\)|(?P<today>today)|(?P<num>\d+)|(?P<slot>[a-z][a-z0-9_]*))\s*$"
)
_COMPARE = re.compile(r"^(?P<left>.+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<right>.+)$")


class FlowError(ValueError):
    """A flow file that cannot be used; the message names the file and the step."""


def parse_condition(text: str, where: str) -> Condition:
    m = _COND.match(str(text))
    if not m:
        raise FlowError(f'{where}: cannot read condition {text!r} (write e.g. relationship == "Người khác")')
    if m.group("neg"):
        return Condition(m.group("neg"), "unset")
    slot, op, rhs = m.group("slot"), m.group("op"), m.group("rhs")
    if op is None:
        return Condition(slot, "set")
    op = " ".join(op.split())
    try:
        value = yaml.safe_load(rhs)
    except yaml.YAMLError as exc:
        raise FlowError(f"{where}: cannot read the value in {text!r}") from exc
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise FlowError(f'{where}: "{op}" needs a list, e.g. {slot} in ["A", "B"]')
        return Condition(slot, op, tuple(str(v) for v in value))
    if isinstance(value, list | dict) or value is None:
        raise FlowError(f"{where}: {op} needs one value in {text!r}")
    return Condition(slot, op, (str(value),))


def _term(text: str, where: str) -> Term:
    m = _TERM.match(text)
    if not m:
        raise FlowError(f"{where}: cannot read {text!r}; write age(slot), a date slot, today or a number")
    if m.group("age"):
        return Term("age", slot=m.group("age"))
    if m.group("today"):
        return Term("today")
    if m.group("num"):
        return Term("number", number=int(m.group("num")))
    return Term("slot", slot=m.group("slot"))


def parse_comparison(text: str, where: str) -> Comparison:
    """`age(husband_birth_date) >= 20`, `stay_until > stay_from`, `death_date <= today`."""
    m = _COMPARE.match(str(text).strip())
    if not m:
        raise FlowError(f"{where}: cannot read {text!r}; write e.g. age(wife_birth_date) >= 18")
    left, right = _term(m.group("left"), where), _term(m.group("right"), where)
    numeric = {left.kind in ("age", "number"), right.kind in ("age", "number")}
    if numeric != {True} and numeric != {False}:
        raise FlowError(f"{where}: {text!r} compares a number of years with a date")
    if left.kind in ("number", "today") and right.kind in ("number", "today"):
        raise FlowError(f"{where}: {text!r} compares no answer")
    return Comparison(left, m.group("op"), right)


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    items = raw if isinstance(raw, list) else [raw]
    return tuple(parse_condition(item, where) for item in items)


def parse_checks(raw: Any, source: str) -> tuple[Check, ...]:
    """The `checks:` list: each has an id, a `say` (what the citizen is told) and either `require:`
    (a comparison, optionally under `if:`) or `refuse:` (conditions that may not all hold)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise FlowError(f"{source}: checks must be a list")
    checks: list[Check] = []
    for n, item in enumerate(raw, 1):
        where = f"{source}: check {n}"
        if not isinstance(item, dict):
            raise FlowError(f"{where}: a check is a mapping with id, say and require or refuse")
        _check_keys(item, {"id", "if", "require", "refuse", "say"}, where)
        cid = str(item.get("id") or "")
        if not _SLOT.match(cid):
            raise FlowError(f"{where}: id {cid!r} must be lower_case_with_underscores")
        where = f"{source}: check {cid}"
        if not item.get("say"):
            raise FlowError(f"{where}: `say:` is missing (what the citizen is told when it fails)")
        if ("require" in item) == ("refuse" in item):
            raise FlowError(f"{where}: write either `require:` (a comparison) or `refuse:` (conditions)")
        if "refuse" in item:
            if "if" in item:
                raise FlowError(f"{where}: `refuse:` already lists its conditions; drop `if:`")
            checks.append(Check(cid, str(item["say"]), when=_conditions(item["refuse"], where)))
            continue
        when = _conditions(item["if"], where) if "if" in item else ()
        require = parse_comparison(item["require"], where)
        checks.append(Check(cid, str(item["say"]), when=when, require=require))
    return tuple(checks)


def _count(raw: Any, where: str) -> tuple[int, int]:
    text = str(raw).strip()
    m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", text)
    if not m:
        raise FlowError(f"{where}: count must be a number or a range like 1-3, not {raw!r}")
    low = int(m.group(1))
    high = int(m.group(2) or low)
    if high < 1 or low > high:
        raise FlowError(f"{where}: count {raw!r} must allow at least one file and have min <= max")
    return low, high


def _check_keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise FlowError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"
        )


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.steps: list[Step] = []
        self.counter = 0

    def build(self, raw_steps: Any, when: tuple[Condition, ...], path: str) -> None:
        if not isinstance(raw_steps, list) or not raw_steps:
            raise FlowError(f"{self.source}: {path} must be a non-empty list of steps")
        for n, raw in enumerate(raw_steps, 1):
            where = f"{self.source}: {path} step {n}"
            if isinstance(raw, dict) and "if" in raw:
                _check_keys(raw, {"if", "then", "else"}, where)
                cond = parse_condition(raw["if"], where)
                self.build(raw.get("then"), (*when, cond), f"{path} step {n} (then)")
                if "else" in raw:
                    negated = Condition(cond.slot, _NEGATE[cond.op], cond.values)
                    self.build(raw["else"], (*when, negated), f"{path} step {n} (else)")
                continue
            self.steps.append(self.step(raw, when, where))

    def _auto_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def step(self, raw: Any, when: tuple[Condition, ...], where: str) -> Step:
        if isinstance(raw, str):
            raw = {raw: True}
        if not isinstance(raw, dict) or not raw:
            raise FlowError(f"{where}: a step is a name (consent, confirm, submit) or a mapping")
        if "consent" in raw:
            _check_keys(raw, {"consent", "purpose", "id"}, where)
            return ConsentStep(
                id=str(raw.get("id") or "consent"),
                type="consent",
                when=when,
                purpose=str(raw.get("purpose") or ""),
            )
        if "confirm" in raw:
            _check_keys(raw, {"confirm", "id"}, where)
            return Confirm(id=str(raw.get("id") or "confirm"), type="confirm", when=when)
        if "submit" in raw:
            _check_keys(raw, {"submit", "id"}, where)
            return Submit(id=str(raw.get("id") or "submit"), type="submit", when=when)
        if "say" in raw:
            _check_keys(raw, {"say", "id"}, where)
            return Say(
                id=str(raw.get("id") or self._auto_id("say")), type="say", when=when, text=str(raw["say"])
            )
        if "handoff" in raw:
            _check_keys(raw, {"handoff", "id"}, where)
            reason = "request_human" if raw["handoff"] is True else str(raw["handoff"])
            if reason not in HANDOFF_REASONS:
                raise FlowError(
                    f"{where}: handoff reason {reason!r} is not one of {', '.join(HANDOFF_REASONS)}"
                )
            return Handoff(
                id=str(raw.get("id") or self._auto_id("handoff")), type="handoff", when=when, reason=reason
            )
        if "action" in raw:
            _check_keys(raw, {"action", "id", "args"}, where)
            name = str(raw["action"])
            if name not in ACTIONS:
                raise FlowError(f"{where}: unknown action {name!r}; known: {', '.join(sorted(ACTIONS))}")
            return Action(
                id=str(raw.get("id") or name),
                type="action",
                when=when,
                name=name,
                args=dict(raw.get("args") or {}),
            )
        if "collect" in raw:
            return self.collect(raw, when, where)
        if "document" in raw:
            return self.document(raw, when, where)
        raise FlowError(
            f"{where}: unknown step {sorted(raw)!r}; use consent, collect, document, say, if, "
            "confirm, submit, handoff or action"
        )

    def collect(self, raw: dict[str, Any], when: tuple[Condition, ...], where: str) -> Collect:
        _check_keys(raw, {"collect", "type", "label", "ask", "hint", "options", "rules", "optional"}, where)
        slot = str(raw["collect"])
        if not _SLOT.match(slot):
            raise FlowError(f"{where}: slot name {slot!r} must be lower_case_with_underscores")
        kind = str(raw.get("type") or DEFAULTS["collect"]["type"])
        if kind not in KINDS:
            raise FlowError(f"{where}: type {kind!r} of {slot} is not one of {', '.join(KINDS)}")
        if not raw.get("label") or not raw.get("ask"):
            raise FlowError(
                f"{where}: collect {slot} needs a label (for the summary) and an ask (the question)"
            )
        options = tuple(str(o) for o in raw.get("options") or ())
        if kind == "choice" and len(options) < 2:
            raise FlowError(f"{where}: choice {slot} needs at least two options")
        if kind != "choice" and options:
            raise FlowError(f"{where}: options are only for type choice ({slot})")
        rules = raw.get("rules") or {}
        if not isinstance(rules, dict):
            raise FlowError(f"{where}: rules of {slot} must be a mapping, e.g. {{when: past}}")
        return Collect(
            id=slot,
            type="collect",
            when=when,
            kind=kind,
            label=str(raw["label"]),
            ask=str(raw["ask"]),
            hint=str(raw.get("hint") or ""),
            options=options,
            rules=dict(rules),
            optional=bool(raw.get("optional", False)),
        )

    def document(self, raw: dict[str, Any], when: tuple[Condition, ...], where: str) -> Documents:
        _check_keys(raw, {"document", "label", "ask", "accept", "max_mb", "count", "none", "card_of"}, where)
        item = str(raw["document"])
        if not _SLOT.match(item):
            raise FlowError(f"{where}: document id {item!r} must be lower_case_with_underscores")
        if not raw.get("label"):
            raise FlowError(f"{where}: document {item} needs a label (the checklist item's name)")
        accept = tuple(str(a).lower() for a in raw.get("accept") or DEFAULTS["document"]["accept"])
        bad = [a for a in accept if a not in CONTENT_TYPES]
        if bad:
            raise FlowError(
                f"{where}: document {item} accepts unknown type(s) {bad}; use {', '.join(CONTENT_TYPES)}"
            )
        max_mb = raw.get("max_mb", DEFAULTS["document"]["max_mb"])
        if not isinstance(max_mb, int) or not 1 <= max_mb <= 25:
            raise FlowError(f"{where}: max_mb of {item} must be a whole number of MB from 1 to 25")
        low, high = _count(raw.get("count", DEFAULTS["document"]["count"]), where)
        none = str(raw.get("none") or "")
        if low == 0 and not none:
            raise FlowError(
                f"{where}: document {item} has count 0-..., say instead what the citizen answers "
                "with `none: Không có`"
            )
        return Documents(
            id=item,
            type="documents",
            when=when,
            label=str(raw["label"]),
            ask=str(raw.get("ask") or ""),
            accept=accept,
            max_mb=max_mb,
            min_count=max(low, 1),
            max_count=high,
            none_answer=none,
            card_of=str(raw.get("card_of") or ""),
        )


_NEGATE = {"==": "!=", "!=": "==", "in": "not in", "not in": "in", "set": "unset", "unset": "set"}


def parse_flow(data: Any, source: str) -> Flow:
    """Build and check one flow from its parsed YAML."""
    if not isinstance(data, dict):
        raise FlowError(f"{source}: a flow file is a mapping with flow, title and steps")
    _check_keys(data, {"flow", "title", "procedure", "steps", "checks"}, source)
    name = str(data.get("flow") or "")
    if not _SLOT.match(name):
        raise FlowError(f"{source}: `flow:` must be a lower_case name, not {name!r}")
    if not data.get("title"):
        raise FlowError(f"{source}: `title:` is missing")
    procedure = data.get("procedure")
    if procedure is not None:
        procedure = str(procedure)
        if not re.fullmatch(r"\d\.\d{6}", procedure):
            raise FlowError(
                f'{source}: procedure {procedure!r} is not a national code like "1.001193" (quote it in YAML)'
            )
    builder = _Builder(source)
    builder.build(data.get("steps"), (), "steps")
    _imply_notify(builder.steps)
    flow = Flow(
        name=name, title=str(data["title"]), steps=tuple(builder.steps), procedure=procedure, source=source,
        checks=parse_checks(data.get("checks"), source),
    )
    _check_flow(flow)
    _check_checks(flow)
    problem = card_copy_problem(flow.steps)
    if problem:
        raise FlowError(f"{source}: {problem}")
    return Flow(name=flow.name, title=flow.title, steps=with_cards(flow.steps), procedure=flow.procedure,
                source=source, checks=flow.checks)  # implied steps, added after the file's own checks


def _imply_notify(steps: list[Step]) -> None:
    """A flow that submits a dossier asks, before its confirmation, how the citizen wants to be told."""
    types = [s.type for s in steps]
    if "submit" in types and "confirm" in types and "notify" not in types:
        confirm = types.index("confirm")
        steps.insert(confirm, NotifyStep(id="notify", type="notify", when=steps[confirm].when))


def _check_flow(flow: Flow) -> None:
    seen: dict[str, Step] = {}
    for step in flow.steps:
        where = f"{flow.source}: step {step.id}"
        # A branch may define the same slot in its then and else parts; anything else is a duplicate.
        if step.id in seen and not (step.when and seen[step.id].when and step.type == seen[step.id].type):
            raise FlowError(f"{where}: id {step.id!r} is used twice")
        for cond in step.when:
            source_step = seen.get(cond.slot)
            if not isinstance(source_step, Collect):
                raise FlowError(f"{where}: condition on {cond.slot!r}, which no earlier collect step asks")
            if source_step.kind == "choice":
                unknown = [v for v in cond.values if v not in source_step.options]
                if unknown:
                    raise FlowError(
                        f"{where}: condition compares {cond.slot} with {unknown}, "
                        f"not one of its options {list(source_step.options)}"
                    )
        seen.setdefault(step.id, step)
    types = [s.type for s in flow.steps]
    if "submit" in types:
        if flow.procedure is None:
            raise FlowError(f"{flow.source}: a flow with submit needs `procedure:`")
        if "confirm" not in types or types.index("confirm") > types.index("submit"):
            raise FlowError(f"{flow.source}: submit must come after a confirm step")
        if "consent" not in types:
            raise FlowError(f"{flow.source}: a flow that collects a dossier must ask consent first")
    if "consent" in types:
        first_data = next((i for i, t in enumerate(types) if t in ("collect", "documents")), None)
        if first_data is not None and first_data < types.index("consent"):
            raise FlowError(f"{flow.source}: consent must come before the first collect/document step")


def _check_checks(flow: Flow) -> None:
    """Every slot a check names is collected, with the right kind and existing options."""
    collected = {s.id: s for s in flow.steps if isinstance(s, Collect)}
    seen: set[str] = set()
    for check in flow.checks:
        where = f"{flow.source}: check {check.id}"
        if check.id in seen:
            raise FlowError(f"{where}: id used twice")
        seen.add(check.id)
        for slot in check.slots:
            if slot not in collected:
                raise FlowError(f"{where}: {slot!r} is not collected by any step of this flow")
        for cond in check.when:
            step = collected[cond.slot]
            unknown = [v for v in cond.values if step.kind == "choice" and v not in step.options]
            if unknown:
                raise FlowError(
                    f"{where}: compares {cond.slot} with {unknown}, "
                    f"not one of its options {list(step.options)}"
                )
        if check.require:
            for term in (check.require.left, check.require.right):
                if term.slot and collected[term.slot].kind != "date":
                    raise FlowError(f"{where}: {term} needs {term.slot} to be of type date")


def load_file(path: Path) -> Flow:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FlowError(f"{path.name}: not valid YAML ({exc})") from exc
    flow = parse_flow(data, path.name)
    if flow.name != path.stem:
        raise FlowError(f"{path.name}: flow name {flow.name!r} must match the file name")
    return flow


@lru_cache(maxsize=4)
def load_flows(directory: str | None = None) -> dict[str, Flow]:
    """Every flow of the folder, by name; the first bad file stops loading with its error."""
    folder = Path(directory) if directory else DATA_DIR / "flows"
    flows: dict[str, Flow] = {}
    for path in sorted(folder.glob("*.yml")):
        flow = load_file(path)
        flows[flow.name] = flow
    return flows


def flow_for_procedure(code: str, directory: str | None = None) -> Flow | None:
    return next((f for f in load_flows(directory).values() if f.procedure == code), None)
