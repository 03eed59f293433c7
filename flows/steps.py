"""Typed flow definitions: what a step of `data/flows/*.yml` means once loaded.

A flow is a flat list of steps; a `branch` in YAML becomes a condition (`when`) on each step it
contains, so moving forward, going back and jumping to the confirmation all walk one list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nlu.text import fold

# File types a document step may accept, by name in YAML -> content type found by sniffing.
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
    "pdf": "application/pdf",
}

# Step types that wait for the citizen's answer; the others run and move on.
WAITING = ("consent", "collect", "documents", "notify", "confirm")


@dataclass(frozen=True)
class Condition:
    """`slot == "value"`, `slot != "value"`, `slot in ["a", "b"]`, `slot` (answered) or `not slot`."""

    slot: str
    op: str  # == | != | in | not in | set | unset
    values: tuple[str, ...] = ()

    def holds(self, slots: dict[str, Any]) -> bool:
        value = slots.get(self.slot)
        if self.op == "set":
            return value not in (None, "")
        if self.op == "unset":
            return value in (None, "")
        folded = fold(str(value)) if value is not None else ""
        hit = folded in {fold(v) for v in self.values}
        return hit if self.op in ("==", "in") else not hit

    def __str__(self) -> str:
        if self.op in ("set", "unset"):
            return self.slot if self.op == "set" else f"not {self.slot}"
        shown = f'"{self.values[0]}"' if self.op in ("==", "!=") else str(list(self.values))
        return f"{self.slot} {self.op} {shown}"


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    when: tuple[Condition, ...] = ()

    @property
    def waits(self) -> bool:
        return self.type in WAITING

    def applies(self, slots: dict[str, Any]) -> bool:
        return all(c.holds(slots) for c in self.when)


@dataclass(frozen=True)
class Say(Step):
    """Tell the citizen something (inline text or a template key) and move on."""

    text: str = ""


@dataclass(frozen=True)
class ConsentStep(Step):
    """State the purpose and ask for consent before any personal data; skipped once given."""

    purpose: str = ""  # what this flow collects the data for (shown with the consent text)


@dataclass(frozen=True)
class Collect(Step):
    """Ask for one typed value; `kind` names a validator (text, person_name, id_number, phone, date ...)."""

    kind: str = "text"
    label: str = ""
    ask: str = ""
    hint: str = ""  # extra re-ask hint for this field (the validator's own hint comes first)
    options: tuple[str, ...] = ()  # choice buttons
    rules: dict[str, Any] = field(default_factory=dict)  # passed to the validator (e.g. when: past)
    optional: bool = False  # the citizen may skip it ("Bỏ qua")


@dataclass(frozen=True)
class Documents(Step):
    """One checklist item: photos / PDFs, checked by content, within a size and count range."""

    label: str = ""
    ask: str = ""
    accept: tuple[str, ...] = ("jpeg", "png", "heic", "pdf")
    max_mb: int = 10
    min_count: int = 1
    max_count: int = 1
    none_answer: str = ""  # "Không có" / "Không áp dụng" when the law allows it; empty = required
    card_of: str = ""  # a copy of this person's ID card: their card photo, read and confirmed, is filed here

    @property
    def content_types(self) -> tuple[str, ...]:
        return tuple(CONTENT_TYPES[a] for a in self.accept)


@dataclass(frozen=True)
class NotifyStep(Step):
    """How the citizen wants to hear about the dossier (implied before the confirmation)."""


@dataclass(frozen=True)
class Confirm(Step):
    """Summary of everything collected; submit, or correct one field without starting over."""


@dataclass(frozen=True)
class Submit(Step):
    """Create the dossier and send the receipt."""


@dataclass(frozen=True)
class Handoff(Step):
    """Hand the conversation to an officer (mode waiting_human) with a reason."""

    reason: str = "request_human"


@dataclass(frozen=True)
class Action(Step):
    """A named piece of Python (flows.actions) for what data cannot say: status lookup, erasure ..."""

    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Term:
    """One side of a cross-field comparison: `age(slot)` (full years until today), a date slot,
    `today`, or a whole number."""

    kind: str  # age | slot | today | number
    slot: str = ""
    number: int = 0

    def __str__(self) -> str:
        shown = {"age": f"age({self.slot})", "slot": self.slot, "today": "today"}
        return shown.get(self.kind, str(self.number))


@dataclass(frozen=True)
class Comparison:
    left: Term
    op: str  # < <= > >= == !=
    right: Term

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(t.slot for t in (self.left, self.right) if t.slot)

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class Check:
    """A rule across answers (`checks:` of a flow file): ages, dates in order, answers that exclude each
    other. Tried when one of its slots is answered and all of them are known; a failing answer is refused
    with `say` and asked again."""

    id: str
    say: str
    when: tuple[Condition, ...] = ()  # the check applies only when these hold
    require: Comparison | None = None  # None: the combination in `when` itself is refused

    @property
    def slots(self) -> tuple[str, ...]:
        own = self.require.slots if self.require else ()
        return tuple(dict.fromkeys((*(c.slot for c in self.when), *own)))


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    steps: tuple[Step, ...]
    procedure: str | None = None  # national procedure code for dossier flows
    source: str = ""  # file it was loaded from, for error messages
    checks: tuple[Check, ...] = ()  # cross-field rules (flows.checks)

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(f"flow {self.name} has no step {step_id!r}")

    def step(self, step_id: str) -> Step:
        return self.steps[self.index(step_id)]

    @property
    def fields(self) -> tuple[Collect | Documents, ...]:
        """Steps whose answers the confirmation shows (and the citizen may correct)."""
        return tuple(s for s in self.steps if isinstance(s, Collect | Documents))

    def first(self, step_type: str) -> Step | None:
        return next((s for s in self.steps if s.type == step_type), None)
