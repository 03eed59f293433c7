"""Compare the curated flows with the official forms and the catalogue (`motcua flows check`).

The flows are hand-edited, so nothing stops a field of the official form from going missing or a
conditional document from being asked of everyone. This linter reports, per curated flow:

- the fields of its official form(s) (data/forms/*.yml, each with its legal citation) that no step collects;
- documents the catalogue states a condition for ("Chỉ khi ...") that the flow asks without an `if:`;
- documents the catalogue requires that the citizen can skip without an alternative (a `none:` answer
  outside any branch);
- catalogue documents to upload that the flow does not ask, and questions that end ungrammatically;
- a `<person>_ethnicity` / `<person>_nationality` slot collected as another type than its name says.

It prints "official-form fields collected: N/M" per flow and exits non-zero when anything is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.store import Catalog
from bot.config import DATA_DIR
from flows.generate import FLOW_NAMES, field_kind
from flows.loader import load_flows
from flows.steps import Collect, Documents, Flow
from nlu.text import fold

# How a catalogue note states a condition on the situation ("Chỉ khi ủy quyền ...", "Với giám hộ cử ...").
_CONDITION = re.compile(r"^(chi khi|chi voi|chi trong|voi |khi |neu )")
# Question endings that lost their object when drafted from a label ("... thường trú là ạ.").
_BROKEN_ASK = re.compile(r"\b(la|ngay)\s+a\b")


class FormError(ValueError):
    """A form file that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True)
class FormField:
    field: str  # slot or document id the flow must have
    label: str
    flows: tuple[str, ...] = ()  # only these flows fill it (empty: every flow of the form)


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    citation: str
    flows: tuple[str, ...]
    fields: tuple[FormField, ...]

    def fields_for(self, flow: str) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if not f.flows or flow in f.flows)


@dataclass
class Report:
    flow: str
    forms: list[Form] = field(default_factory=list)
    collected: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return 1.0 if self.total == 0 else self.collected / self.total


def _form(data: Any, source: str) -> Form:
    if not isinstance(data, dict):
        raise FormError(f"{source}: a form file is a mapping with form, title, citation, flows and fields")
    for key in ("form", "title", "citation", "flows"):
        if not data.get(key):
            raise FormError(f"{source}: `{key}:` is missing")
    unknown = set(data) - {"form", "title", "citation", "flows", "fields", "note"}
    if unknown:
        raise FormError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    fields = []
    for n, raw in enumerate(data.get("fields") or [], 1):
        if not isinstance(raw, dict) or not raw.get("field") or not raw.get("label"):
            raise FormError(f"{source}: field {n} needs `field:` (the slot or document id) and `label:`")
        only = tuple(str(f) for f in raw.get("flows") or ())
        stray = [f for f in only if f not in data["flows"]]
        if stray:
            raise FormError(f"{source}: field {raw['field']} names flows {stray} the form is not used by")
        fields.append(FormField(str(raw["field"]), str(raw["label"]), only))
    return Form(str(data["form"]), str(data["title"]), str(data["citation"]),
                tuple(str(f) for f in data["flows"]), tuple(fields))


def load_forms(directory: Path | None = None) -> list[Form]:
    folder = directory or DATA_DIR / "forms"
    forms = []
    for path in sorted(folder.glob("*.yml")):
        form = _form(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        if form.name != path.stem:
            raise FormError(f"{path.name}: form name {form.name!r} must match the file name")
        forms.append(form)
    return forms


def _documents(flow: Flow) -> dict[str, list[Documents]]:
    found: dict[str, list[Documents]] = {}
    for step in flow.steps:
        if isinstance(step, Documents):
            found.setdefault(fold(" ".join(step.label.split())), []).append(step)
    return found


def check_flow(flow: Flow, forms: list[Form], catalog: Catalog) -> Report:
    report = Report(flow.name, [f for f in forms if flow.name in f.flows])
    ids = {s.id for s in flow.steps if isinstance(s, Collect | Documents)}
    wanted = {f.field: f for form in report.forms for f in form.fields_for(flow.name)}
    report.total = len(wanted)
    report.collected = sum(1 for f in wanted if f in ids)
    if not report.forms:
        report.problems.append("no official form declares this flow (data/forms/*.yml, `flows:`)")
    for name, item in wanted.items():
        if name not in ids:
            report.problems.append(f"official-form field not collected: {name} ({item.label})")
    procedure = catalog.get(flow.procedure) if flow.procedure else None
    documents = _documents(flow)
    for entry in (procedure.checklist if procedure else ()):
        if entry.get("how") != "upload":
            continue
        label = " ".join(str(entry["name"]).split())
        steps = documents.get(fold(label))
        if not steps:
            report.problems.append(f"catalogue document not asked: {label}")
            continue
        note = fold(" ".join(str(entry.get("note") or "").split()))
        conditional = not entry.get("required", True) and bool(_CONDITION.match(note))
        for step in steps:
            if conditional and not step.when:
                report.problems.append(f"document asked of everyone, the catalogue says when: {label}")
            if entry.get("required", True) and step.none_answer and not step.when:
                report.problems.append(
                    f"required document can be skipped ({step.none_answer!r}) without an alternative: {label}"
                )
    for step in flow.steps:
        if isinstance(step, Collect) and _BROKEN_ASK.search(fold(step.ask)):
            report.problems.append(f"question ends without its object: {step.id}: {step.ask!r}")
        implied = field_kind({"name": step.id}) if isinstance(step, Collect) else "text"
        if implied != "text" and step.kind != implied:
            report.problems.append(f"{step.id} is collected as {step.kind}, its name says type: {implied}")
    return report


def check(flows_dir: str | None = None, forms_dir: Path | None = None) -> list[Report]:
    """One report per curated flow (FLOW_NAMES), in file-name order."""
    flows = load_flows(flows_dir)
    forms = load_forms(forms_dir)
    catalog = Catalog.load()
    known = set(flows)
    reports = []
    for form in forms:
        stray = [f for f in form.flows if f not in known]
        if stray:
            raise FormError(f"{form.name}.yml: flows {stray} do not exist in data/flows")
    for name in sorted(FLOW_NAMES.values()):
        if name not in flows:
            reports.append(Report(name, problems=["curated procedure has no flow file"]))
            continue
        reports.append(check_flow(flows[name], forms, catalog))
    return reports


def render(reports: list[Report]) -> tuple[str, bool]:
    """The printed report and whether everything is right."""
    lines = []
    for r in reports:
        titles = "; ".join(f.title for f in r.forms) or "-"
        lines.append(f"{r.flow:22} official-form fields collected: {r.collected}/{r.total} "
                     f"({r.share:.0%})  {titles}")
        lines += [f"    PROBLEM {p}" for p in r.problems]
    full = sum(1 for r in reports if r.share == 1.0)
    fields = sum(r.collected for r in reports), sum(r.total for r in reports)
    problems = sum(len(r.problems) for r in reports)
    lines.append(
        "official-form fields collected per curated flow (target 100 %): "
        f"{full}/{len(reports)} flows at 100 %, {fields[0]}/{fields[1]} fields; {problems} problem(s)"
    )
    return "\n".join(lines), problems == 0
