"""`motcua flows check`: every curated flow collects every field of its official form (target 100 %), and the
linter does find a missing field, a conditional document asked of everyone and a skippable required proof."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.config import DATA_DIR
from flows.generate import FLOW_NAMES
from flows.lint import FormError, check, load_forms, render
from flows.loader import load_flows


def test_every_curated_flow_collects_its_whole_official_form() -> None:
    reports = check()
    assert sorted(r.flow for r in reports) == sorted(FLOW_NAMES.values())
    for report in reports:
        assert report.problems == [], (report.flow, report.problems)
        assert report.share == 1.0 and report.forms, report.flow
    civil = {r.flow: r for r in reports}
    assert civil["khai_sinh"].total >= 20 and civil["thuong_tru"].total >= 10


def test_the_command_prints_the_figures_and_succeeds() -> None:
    result = CliRunner().invoke(main, ["flows", "check"])
    assert result.exit_code == 0, result.output
    assert "khai_sinh" in result.output and "official-form fields collected: " in result.output
    assert "(target 100 %): 20/20 flows at 100 %" in result.output


def _broken_copy(tmp_path: Path) -> str:
    folder = tmp_path / "flows"
    shutil.copytree(DATA_DIR / "flows", folder)
    path = folder / "khai_sinh.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # the child's ethnicity is dropped, and the surrogacy letter is asked of everyone, skippable
    data["steps"] = [
        s for s in data["steps"] if not (isinstance(s, dict) and s.get("collect") == "child_ethnicity")
    ]
    for n, step in enumerate(data["steps"]):
        if isinstance(step, dict) and step.get("if") == 'birth_case == "Trẻ sinh ra do mang thai hộ"':
            data["steps"][n] = {**step["then"][0], "none": "Không áp dụng"}
    extra = {"document": "giay_chung_sinh_2", "label": "Giấy chứng sinh", "none": "Không có"}
    data["steps"].insert(-2, extra)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_flows.cache_clear()
    return str(folder)


def test_the_linter_reports_what_is_wrong(tmp_path: Path) -> None:
    try:
        reports = {r.flow: r for r in check(flows_dir=_broken_copy(tmp_path))}
    finally:
        load_flows.cache_clear()
    problems = "\n".join(reports["khai_sinh"].problems)
    assert "official-form field not collected: child_ethnicity" in problems
    assert "document asked of everyone, the catalogue says when: Văn bản xác nhận của cơ sở y tế" in problems
    assert "required document can be skipped ('Không có') without an alternative: Giấy chứng sinh" in problems
    assert reports["khai_sinh"].share < 1.0 and reports["ket_hon"].problems == []
    text, ok = render(list(reports.values()))
    assert not ok and "19/20 flows at 100 %" in text


def test_form_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text("form: x\ntitle: X\nflows: [khai_sinh]\nfields: []\n", encoding="utf-8")
    with pytest.raises(FormError, match="citation"):
        load_forms(tmp_path)
    (tmp_path / "x.yml").write_text(
        "form: x\ntitle: X\ncitation: TT\nflows: [khai_sinh]\n"
        "fields:\n  - {field: a, label: A, flows: [ket_hon]}\n",
        encoding="utf-8")
    with pytest.raises(FormError, match="not used by"):
        load_forms(tmp_path)


def test_every_form_names_its_legal_source() -> None:
    for form in load_forms():
        assert any(w in form.citation for w in ("Thông tư", "Nghị định", "Quyết định")), form.name


def test_person_fields_follow_the_naming_convention() -> None:
    """<person>_name, _id_number, _birth_date, _sex, _address: what reading a CCCD's QR code fills."""
    from flows.steps import Collect

    kinds = {"_name": "person_name", "_id_number": "id_number", "_birth_date": "date", "_address": "address"}
    for flow in load_flows().values():
        collected = {s.id: s for s in flow.steps if isinstance(s, Collect)}
        for slot, step in collected.items():
            if step.kind in ("person_name", "id_number"):
                suffix = "_name" if step.kind == "person_name" else "_id_number"
                assert slot.endswith(suffix), (flow.name, slot)
                assert slot.removesuffix(suffix) + "_name" in collected, (flow.name, slot)
            for suffix, kind in kinds.items():
                if slot.endswith(suffix) and suffix != "_name":
                    assert step.kind == kind, (flow.name, slot, step.kind)
            if slot.endswith("_sex"):
                assert step.kind == "choice" and set(step.options) == {"Nam", "Nữ"}, (flow.name, slot)


def test_an_ethnicity_or_nationality_slot_collected_as_plain_text_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DATA_DIR / "flows", folder)
    path = folder / "ket_hon.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for step in data["steps"]:
        if isinstance(step, dict) and step.get("collect") in ("wife_ethnicity", "wife_nationality"):
            step.pop("type")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_flows.cache_clear()
    try:
        reports = {r.flow: r for r in check(flows_dir=str(folder))}
    finally:
        load_flows.cache_clear()
    assert reports["ket_hon"].problems == [
        "wife_ethnicity is collected as text, its name says type: ethnicity",
        "wife_nationality is collected as text, its name says type: nationality",
    ]
    assert reports["khai_sinh"].problems == []
