"""The flow files and dialogue texts: every file loads, every curated procedure has its flow, and the
loader refuses broken files with a message that names the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.agency import Agency
from bot.catalog.store import Catalog
from bot.config import DATA_DIR, ROOT
from bot.templates import has
from flows.generate import FLOW_NAMES
from flows.loader import HANDOFF_REASONS, FlowError, load_file, load_flows, parse_flow
from flows.steps import Collect, Documents, Handoff
from flows.validators import VALIDATORS
from nlu.text import fold

FLOWS = load_flows()
SHARED = ("check_status", "supplement_dossier", "handoff", "delete_data", "complaint")


def test_every_flow_file_loads_and_is_named_after_its_file() -> None:
    files = sorted(p.stem for p in (DATA_DIR / "flows").glob("*.yml"))
    assert files == sorted(FLOWS)
    for name in SHARED:
        assert name in FLOWS


def test_every_curated_procedure_has_a_flow() -> None:
    catalog = Catalog.load()
    curated = {p.code for p in catalog.all() if p.curated}
    by_code = {f.procedure: f for f in FLOWS.values() if f.procedure}
    assert set(FLOW_NAMES) <= set(by_code), "a curated procedure of issue 3 has no flow"
    assert curated <= set(by_code)
    for code, flow in by_code.items():
        assert catalog.get(code) is not None, f"{flow.name}: unknown procedure {code}"
        assert FLOW_NAMES[code] == flow.name


def test_the_agency_accepts_only_procedures_with_a_flow() -> None:
    with_flow = {f.procedure for f in FLOWS.values() if f.procedure}
    assert Agency.load().accepted_procedures <= with_flow


def test_every_value_kind_has_a_validator() -> None:
    for flow in FLOWS.values():
        for step in flow.steps:
            if isinstance(step, Collect):
                assert step.kind in VALIDATORS or step.kind == "dossier_code", (flow.name, step.id)


def test_dossier_flows_ask_consent_first_and_end_with_confirm_and_submit() -> None:
    for flow in FLOWS.values():
        if not flow.procedure:
            continue
        types = [s.type for s in flow.steps]
        assert types[0] == "consent", flow.name
        assert types[-2:] == ["confirm", "submit"], flow.name
        assert any(isinstance(s, Collect) for s in flow.steps), f"{flow.name} collects nothing"


@pytest.mark.parametrize("code", sorted(FLOW_NAMES))
def test_generated_flows_follow_the_curated_checklist(code: str) -> None:
    """Every curated flow, drafted or edited by hand, asks every curated field and every item to upload."""
    procedure = Catalog.load().get(code)
    name = FLOW_NAMES[code]
    assert procedure is not None and procedure.curated, f"{code} has a flow but no curated entry"
    flow = FLOWS[name]
    collected = {s.id: s for s in flow.steps if isinstance(s, Collect)}
    for field in procedure.fields:
        assert field["name"] in collected, f"{name}: curated field {field['name']} is not asked"
        assert collected[field["name"]].kind == field.get("kind", "text")
    labels = {fold(s.label) for s in flow.steps if isinstance(s, Documents)}
    for item in procedure.checklist:
        if item.get("how") == "upload":
            assert fold(" ".join(item["name"].split())) in labels, f"{name}: {item['name']} is not collected"


def test_every_dialogue_template_used_in_code_exists() -> None:
    keys: set[str] = set()
    for path in (ROOT / "flows").glob("*.py"):
        keys |= set(re.findall(r'"(dialogue\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    keys |= {"dialogue.goodbye", "dialogue.thank"}
    missing = sorted(k for k in keys if not has(k))
    assert not missing


def test_every_handoff_reason_a_flow_may_name_has_its_notice() -> None:
    for reason in HANDOFF_REASONS:
        assert has(f"staff.handoff_{reason}"), reason
    used = {s.reason for flow in FLOWS.values() for s in flow.steps if isinstance(s, Handoff)}
    assert used and used <= set(HANDOFF_REASONS)


def test_dialogue_texts_use_the_agreed_form_of_address() -> None:
    texts = yaml.safe_load((DATA_DIR / "templates" / "dialogue.yml").read_text(encoding="utf-8"))
    for key, value in texts.items():
        assert key.startswith("dialogue.")
        assert len(value) < 2000
        words = " " + " ".join(re.findall(r"\w+", value.lower())) + " "
        for wrong in (" bạn ", " tôi ", " mình là "):  # the bot is "em", the citizen "anh/chị"
            assert wrong not in words, (key, wrong)


def _flow(steps: list[object], **extra: object) -> dict[str, object]:
    return {"flow": "thu", "title": "Thử", "procedure": "1.001193", "steps": steps, **extra}


GOOD_END = ["confirm", "submit"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"collect": "x", "type": "colour", "label": "X", "ask": "?"}], "type 'colour'"),
        ([{"collect": "x", "label": "X"}], "needs a label"),
        ([{"collect": "x", "type": "choice", "label": "X", "ask": "?", "options": ["A"]}], "two options"),
        (["consent", {"if": 'y == "A"', "then": ["confirm"]}, *GOOD_END], "which no earlier collect"),
        (
            [
                "consent",
                {"collect": "y", "type": "choice", "label": "Y", "ask": "?", "options": ["A", "B"]},
                {"if": 'y == "C"', "then": [{"say": "hi"}]},
                *GOOD_END,
            ],
            "not one of its options",
        ),
        (["consent", {"document": "d", "label": "D", "count": "3-1"}, *GOOD_END], "min <= max"),
        (["consent", {"document": "d", "label": "D", "accept": ["gif"]}, *GOOD_END], "unknown type"),
        (["consent", {"document": "d", "label": "D", "max_mb": 500}, *GOOD_END], "max_mb"),
        ([{"document": "d", "label": "D"}, *GOOD_END], "consent first"),
        (
            ["consent", {"collect": "x", "type": "text", "label": "X", "ask": "?"}, "submit", "confirm"],
            "after a confirm",
        ),
        (["consent", {"action": "launch_rocket"}], "unknown action"),
        (
            ["consent", {"collect": "x", "type": "text", "label": "X", "ask": "?", "colour": "red"}],
            "unknown key",
        ),
        (["consent", {"handoff": "boredom"}], "handoff reason"),
        (["consent", {"if": "x ==", "then": ["confirm"]}], "condition"),
    ],
)
def test_loader_refuses_bad_flows_with_a_clear_message(steps: list[object], message: str) -> None:
    with pytest.raises(FlowError, match=re.escape(message)):
        parse_flow(_flow(steps), "thu.yml")


def test_loader_names_the_file_and_refuses_a_wrong_name(tmp_path: Path) -> None:
    path = tmp_path / "khac.yml"
    path.write_text("flow: thu\ntitle: Thử\nsteps: [say: hi]\n", encoding="utf-8")
    with pytest.raises(FlowError, match=r"khac\.yml.*match the file name"):
        load_file(path)
    path.write_text("flow: [\n", encoding="utf-8")
    with pytest.raises(FlowError, match="not valid YAML"):
        load_file(path)


def test_branches_become_conditions_on_their_steps() -> None:
    flow = parse_flow(
        _flow(
            [
                "consent",
                {
                    "collect": "who",
                    "type": "choice",
                    "label": "Ai",
                    "ask": "?",
                    "options": ["Tôi", "Người khác"],
                },
                {
                    "if": 'who == "Người khác"',
                    "then": [{"document": "letter", "label": "Thư", "count": "1-2"}],
                    "else": [{"say": "Không cần giấy ủy quyền."}],
                },
                *GOOD_END,
            ]
        ),
        "thu.yml",
    )
    letter, say = flow.step("letter"), flow.steps[3]
    assert letter.applies({"who": "nguoi khac"}) and not letter.applies({"who": "Tôi"})
    assert say.applies({"who": "Tôi"}) and not say.applies({"who": "Người khác"})
    assert isinstance(letter, Documents) and (letter.min_count, letter.max_count) == (1, 2)
