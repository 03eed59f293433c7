"""Curated procedures (data/catalog/curated/*.yml) and colloquial aliases (data/catalog/aliases.yml).

Schema of a curated file (officers edit these, so the rules are checked here):
- code, short_name, official_name, source{url, decision, raw_file}, summary (≤ 600 chars, one chat
  screen), aliases (5–12 colloquial names with diacritics), checklist, modes, fields, source_notes.
- checklist item: name, how (upload | in_person | fill_in_chat), required, allow_not_applicable,
  optional note and form. An identity card is never a required upload (the state holds that data).
- mode (one entry per mode): mode (online | postal | in_person), duration (null when the source
  gives none, else value, unit, unit_stated and optionally unit_from: steps|description|law; only
  unit_from: law, with a `law` reference such as "Điều 7 Nghị định 23/2015/NĐ-CP" naming a document
  of the source's legal basis, may fill a time the portal leaves empty, and only it allows value 0
  = the same day, or the next working day after the 15:00 cut-off),
  fee{text, amount (đồng, null when the province sets it), optional varies, per}, optional note,
  optional source: description.
- field: name (snake_case, unique), kind (text | person_name | id_number | phone | date | choice |
  address), label, optional rule (date: past|future|any), options (choice), required, hint.

The facts asserted in `modes` are re-read here from the raw portal strings with a small parser of
its own (independent of bot/catalog/parse.py), so a typo in a fee or a time fails a test.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlu.text import fold, has_diacritics

ROOT = Path(__file__).resolve().parents[2]
CURATED_DIR = ROOT / "data" / "catalog" / "curated"
ALIASES_FILE = ROOT / "data" / "catalog" / "aliases.yml"
RAW_DIR = ROOT.parent / "shared" / "catalog" / "raw"
needs_raw = pytest.mark.skipif(not RAW_DIR.is_dir(), reason="shared/catalog/raw not available")

CURATED_CODES = {
    "1.001193", "1.000894", "1.000656", "1.004222", "1.004194", "1.002755", "1.003677", "1.010041",
    "1.010038", "2.000815", "2.000884", "2.000635", "1.004873", "1.004884", "1.004859", "1.001022",
    "1.004837", "2.000986", "1.001612", "1.013225",
}
TOP_KEYS = {"code", "short_name", "official_name", "source", "summary", "aliases", "checklist", "modes",
            "fields", "source_notes"}
HOW = {"upload", "in_person", "fill_in_chat"}
MODES = {"online", "postal", "in_person"}
KINDS = {"text", "person_name", "id_number", "phone", "date", "choice", "address"}
UNITS = {"working_day", "day", "hour", "month"}
FIELD_KEYS = {"name", "kind", "label", "rule", "options", "required", "hint"}
CHECK_KEYS = {"name", "how", "required", "allow_not_applicable", "note", "form"}
MODE_KEYS = {"mode", "duration", "fee", "note", "source"}

CURATED_FILES = sorted(CURATED_DIR.glob("*.yml"))


@cache
def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path.name
    return data


@cache
def raw(code: str) -> dict[str, Any]:
    return json.loads((RAW_DIR / f"{code}.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# An independent reading of the flattened "Cách thức thực hiện" table


_LABELS = {"Trực tuyến": "online", "Dịch vụ bưu chính": "postal", "Trực tiếp": "in_person"}
# A label starts a row only when a time (digits) or "Không có thông tin" follows it; inside
# descriptions the same words are followed by "tại", "qua"...
_ROW = re.compile(r"(Trực tuyến|Dịch vụ bưu chính|Trực tiếp)(?=\s*(?:\d|Không có thông tin))")
_TIME = re.compile(r"\s*(?:(\d+)\s*(Ngày làm việc|Ngày|Giờ làm việc|Giờ|Tháng)?|Không có thông tin)")
_RAW_UNITS = {"Ngày làm việc": "working_day", "Ngày": "day", "Giờ làm việc": "hour", "Giờ": "hour",
              "Tháng": "month"}
_FEE = re.compile(r"\s*(?:(Miễn phí)|([\d.,]+)\s*(Việt Nam Đồng|VNĐ|Đồng|USD)|(Không có thông tin))")


def raw_rows(table: str) -> list[dict[str, Any]]:
    """[{mode, value, unit_text, fee ('free' | int đồng | 'usd' | None), text}] in table order."""
    starts = list(_ROW.finditer(table))
    rows = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(table)
        body = table[m.end():end]
        t = _TIME.match(body)
        assert t, f"cannot read a time in {body[:60]!r}"
        f = _FEE.match(body[t.end():])
        assert f, f"cannot read a fee in {body[t.end():t.end() + 60]!r}"
        if f.group(1):
            fee: Any = "free"
        elif f.group(4):
            fee = None
        elif f.group(3) == "USD":
            fee = "usd"
        else:
            fee = int(re.sub(r"\D", "", f.group(2)))
        rows.append({"mode": _LABELS[m.group(1)], "value": int(t.group(1)) if t.group(1) else None,
                     "unit_text": t.group(2), "fee": fee, "text": body})
    return rows


def test_raw_rows_reader_on_literal_tables() -> None:
    rows = raw_rows("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến7 Ngày làm việc10,000 Việt Nam Đồng"
                    "(thu 10.000 đồng)Trực tiếpKhông có thông tin2,000 Việt Nam Đồng(/trang)Trực tiếp tại xã"
                    "Dịch vụ bưu chính1Miễn phí")
    assert [(r["mode"], r["value"], r["unit_text"], r["fee"]) for r in rows] == [
        ("online", 7, "Ngày làm việc", 10000), ("in_person", None, None, 2000), ("postal", 1, None, "free")]


# --------------------------------------------------------------------------------------------
# Curated files


def test_the_twenty_curated_files_exist() -> None:
    assert {p.stem for p in CURATED_FILES} == CURATED_CODES


@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_curated_schema(path: Path) -> None:
    d = load(path)
    assert set(d) == TOP_KEYS, f"keys differ: {set(d) ^ TOP_KEYS}"
    assert d["code"] == path.stem
    assert d["short_name"].strip() and d["official_name"].strip()
    assert set(d["source"]) == {"url", "decision", "raw_file"}
    assert d["source"]["url"].startswith("https://dichvucong.gov.vn/")
    assert d["source"]["raw_file"] == f"{path.stem}.json"
    assert 100 <= len(d["summary"]) <= 600, len(d["summary"])
    assert "anh/chị" in d["summary"].lower() or "Anh/chị" in d["summary"]
    assert isinstance(d["source_notes"], str) and d["source_notes"].strip()

    aliases = d["aliases"]
    assert 5 <= len(aliases) <= 12
    assert all(isinstance(a, str) and a.strip() for a in aliases)
    # Written with diacritics (matching folds them); some Vietnamese phrases have none at all.
    assert sum(has_diacritics(a) for a in aliases) >= len(aliases) - 2

    checklist = d["checklist"]
    assert checklist
    for item in checklist:
        assert set(item) <= CHECK_KEYS and {"name", "how", "required", "allow_not_applicable"} <= set(item)
        assert item["how"] in HOW, item
        assert isinstance(item["required"], bool) and isinstance(item["allow_not_applicable"], bool)
        # The population database holds identity data: an ID card is never a required upload.
        if item["how"] == "upload" and re.search(r"căn cước|CCCD|tùy thân|hộ chiếu", item["name"], re.I):
            assert not item["required"], item["name"]

    names = [f["name"] for f in d["fields"]]
    assert len(names) == len(set(names)), "field names are unique"
    assert {"applicant_name", "phone"} <= set(names)
    for f in d["fields"]:
        assert set(f) <= FIELD_KEYS and {"name", "kind", "label"} <= set(f), f
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f["name"]), f["name"]
        assert f["kind"] in KINDS, f
        assert isinstance(f["label"], str) and f["label"].strip()
        assert isinstance(f.get("required", True), bool)
        if f["kind"] == "date":
            assert f.get("rule") in {"past", "future", "any"}, f
        else:
            assert "rule" not in f, f
        if f["kind"] == "choice":
            options = f.get("options")
            assert isinstance(options, list) and len(options) >= 2 and len(set(options)) == len(options), f
            assert all(isinstance(o, str) and o.strip() for o in options)
        else:
            assert "options" not in f, f

    # One row per mode: the catalogue store and the dossier code key curated modes by mode.
    assert len({m["mode"] for m in d["modes"]}) == len(d["modes"]), "one entry per mode"
    for m in d["modes"]:
        assert set(m) <= MODE_KEYS and {"mode", "duration", "fee"} <= set(m), m
        assert m["mode"] in MODES
        duration = m["duration"]
        if duration is not None:
            assert set(duration) <= {"value", "unit", "unit_stated", "unit_from", "law"}
            assert isinstance(duration["value"], int | float) and not isinstance(duration["value"], bool)
            assert duration["unit"] in UNITS and isinstance(duration["unit_stated"], bool)
            assert duration.get("unit_from", "steps") in {"steps", "description", "law"}
            if duration.get("unit_from") == "law":
                assert duration["value"] >= 0 and duration["unit_stated"] is False, duration
                assert _LAW_REF.search(str(duration.get("law") or "")), "a law-derived time names its article"
                assert "Điều" in duration["law"], duration
            else:
                assert duration["value"] > 0 and "law" not in duration, duration
        fee = m["fee"]
        assert set(fee) <= {"text", "amount", "varies", "per"} and str(fee["text"]).strip()
        assert fee["amount"] is None or (isinstance(fee["amount"], int) and fee["amount"] >= 0)
        if fee["amount"] is None and "không ghi" not in fee["text"].lower():
            assert fee.get("varies") is True, "an unknown amount is explained (province-set) or flagged"


@needs_raw
@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_curated_code_exists_in_raw_and_is_a_commune_procedure(path: Path) -> None:
    r = raw(path.stem)
    assert r["ma_thu_tuc"] == path.stem
    assert "Cấp xã" in r["cap_thuc_hien"]
    assert load(path)["source"]["url"] == r["detail_url"]
    assert load(path)["source"]["decision"] == r["so_quyet_dinh"]


@needs_raw
@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_curated_modes_match_the_source_table(path: Path) -> None:
    """Each curated mode is one of the source's rows (time, unit and fee), and no row's mode is lost."""
    r = raw(path.stem)
    table = r["cach_thuc_thuc_hien"]
    rows = raw_rows(table)
    assert rows
    curated = load(path)["modes"]
    for m in curated:
        if m.get("source") == "description":
            # A mode the table omits but its description allows ("Trực tiếp tại cơ quan ...").
            label = next(k for k, v in _LABELS.items() if v == m["mode"])
            assert re.search(label + r" tại", table), m
            continue
        candidates = [row for row in rows if row["mode"] == m["mode"]]
        assert candidates, f"{m['mode']} is not a mode of the source"
        assert any(_duration_matches(m["duration"], row, r) and _fee_matches(m["fee"], row)
                   for row in candidates), f"no source row matches {m}"
    commune_rows = {row["mode"] for row in rows if row["fee"] != "usd"}
    assert commune_rows <= {m["mode"] for m in curated}, "every submission mode of the source is kept"


# A document number as the portal writes it: 23/2015/NĐ-CP, 60/2014/QH13, 01/2020/TT-BTP.
_LAW_REF = re.compile(r"\d+/\d{4}/[A-ZĐ0-9]+(?:-[A-ZĐ0-9]+)*")


def _duration_matches(duration: dict[str, Any] | None, row: dict[str, Any], r: dict[str, Any]) -> bool:
    if duration is None:
        return row["value"] is None
    value = duration["value"]
    if duration.get("unit_from") == "law":
        # Only where the portal is silent, and only from a document the procedure itself cites.
        number = _LAW_REF.search(duration["law"])
        return row["value"] is None and number is not None and number.group(0) in r["can_cu_phap_ly"]
    if duration.get("unit_from") == "steps":
        return row["value"] is None and bool(
            re.search(rf"0?{value} ngày làm việc", r["trinh_tu_thuc_hien"]))
    if duration.get("unit_from") == "description":
        return row["value"] == value and bool(re.search(rf"{value} ngày làm việc", row["text"]))
    if row["value"] != value:
        return False
    if row["unit_text"] is None:
        # The table gives no unit: the curated entry must say so.
        return duration["unit_stated"] is False and duration["unit"] == "working_day"
    return duration["unit_stated"] is True and duration["unit"] == _RAW_UNITS[row["unit_text"]]


def test_a_law_derived_time_needs_a_silent_portal_and_a_cited_decree() -> None:
    law = {"value": 0, "unit": "working_day", "unit_stated": False, "unit_from": "law",
           "law": "Điều 7 Nghị định 23/2015/NĐ-CP"}
    cited = {"can_cu_phap_ly": "Về chứng thực23/2015/NĐ-CPThông tư 01/2020/TT-BTP01/2020/TT-BTP"}
    silent = {"value": None}
    assert _duration_matches(law, silent, cited)
    assert not _duration_matches(law, {"value": 3}, cited), "never overrides a time the portal gives"
    assert not _duration_matches(law, silent, {"can_cu_phap_ly": "Thông tư 01/2020/TT-BTP"})
    assert not _duration_matches({**law, "law": "Nghị định chứng thực"}, silent, cited)


def _fee_matches(fee: dict[str, Any], row: dict[str, Any]) -> bool:
    amount = fee["amount"]
    if amount is None and "không ghi" in str(fee["text"]).lower():
        return True  # the source's amount is for another case (tạm trú: only the group-list rate); none shown
    if row["fee"] == "free":
        if amount == 0:
            return True
        # "Miễn phí" in the fee cell while the description leaves the rate to the province.
        return amount is None and fee.get("varies") is True and "Hội đồng nhân dân" in row["text"]
    if row["fee"] is None:
        return amount is None
    return row["fee"] == amount


def test_fee_text_and_amount_agree() -> None:
    """A curated amount written in the text too, so the citizen and the code see the same number."""
    for path in CURATED_FILES:
        for m in load(path)["modes"]:
            amount = m["fee"]["amount"]
            if amount:
                assert f"{amount:,}".replace(",", ".") in m["fee"]["text"], (path.stem, m["fee"])


def test_curated_spot_facts() -> None:
    """A few facts read by hand from the portal text, pinned so an edit cannot drift silently."""
    modes = {p.stem: load(p)["modes"] for p in CURATED_FILES}
    thuong_tru = {m["mode"]: m for m in modes["1.004222"]}
    assert thuong_tru["online"]["fee"]["amount"] == 10000
    assert thuong_tru["in_person"]["fee"]["amount"] == 20000
    assert thuong_tru["online"]["duration"] == {"value": 7, "unit": "working_day", "unit_stated": True}
    same_day = {"value": 0, "unit": "working_day", "unit_stated": False, "unit_from": "law",
                "law": "Điều 7 Nghị định 23/2015/NĐ-CP"}
    assert [m["duration"] for m in modes["2.000815"]] == [same_day]
    assert [m["duration"] for m in modes["2.000884"]] == [same_day]
    # The source states no same-day rule for 2.000635 (only the after-15:00 case): left unknown.
    assert all(m["duration"] is None for m in modes["2.000635"])
    assert [m["mode"] for m in modes["2.000884"]] == ["in_person"]
    gpxd = {m["mode"]: m["duration"]["value"] for m in modes["1.013225"]}
    assert gpxd == {"online": 20, "postal": 20, "in_person": 15}
    assert all(m["fee"]["amount"] == 8000 for m in modes["2.000635"])


# --------------------------------------------------------------------------------------------
# Aliases


def _alias_table() -> dict[str, list[str]]:
    table = yaml.safe_load(ALIASES_FILE.read_text(encoding="utf-8"))
    assert isinstance(table, dict)
    return table


def test_alias_table_shape() -> None:
    table = _alias_table()
    assert len(table) >= 60
    for code, names in table.items():
        assert isinstance(code, str) and re.fullmatch(r"\d\.\d{6}", code), f"quote the code {code!r}"
        assert code not in CURATED_CODES, f"{code}: curated procedures keep their aliases in their own file"
        assert isinstance(names, list) and names, code
        assert all(isinstance(n, str) and n.strip() for n in names), code


@needs_raw
def test_alias_codes_exist_in_raw() -> None:
    missing = [code for code in _alias_table() if not (RAW_DIR / f"{code}.json").is_file()]
    assert not missing


def test_no_alias_points_to_two_procedures() -> None:
    """Across the curated files and aliases.yml, one folded alias names exactly one code."""
    owner: dict[str, str] = {}
    pairs = [(load(p)["code"], a) for p in CURATED_FILES for a in load(p)["aliases"]]
    pairs += [(code, a) for code, names in _alias_table().items() for a in names]
    clashes = []
    for code, alias in pairs:
        key = fold(alias)
        if key in owner and owner[key] != code:
            clashes.append((alias, owner[key], code))
        owner.setdefault(key, code)
    assert not clashes


def test_aliases_do_not_repeat_within_a_procedure() -> None:
    for path in CURATED_FILES:
        folded = [fold(a) for a in load(path)["aliases"]]
        assert len(folded) == len(set(folded)), path.stem
    for code, names in _alias_table().items():
        folded = [fold(a) for a in names]
        assert len(folded) == len(set(folded)), code


# Everyday wording checked against the raw portal pages (code, commune level); the NLU linker must
# settle each on its own, without a question back.
COLLOQUIAL = [
    ("sang tên xe", "1.013076"), ("sang tên đổi chủ xe", "1.013076"), ("sang ten xe may", "1.013076"),
    ("thế chấp", "1.011441"), ("đăng ký thế chấp sổ đỏ", "1.011441"),
    ("đính chính sổ đỏ", "1.012796"),
    ("rút BHXH 1 lần", "1.001613"), ("rút bảo hiểm xã hội một lần", "1.001613"),
    ("làm thẻ BHYT", "1.001939"), ("chứng nhận hộ nghèo", "1.011607"),
    ("chuyển đất lúa sang trồng cây lâu năm", "1.008004"), ("hỗ trợ dịch tả lợn châu Phi", "1.013997"),
]


@pytest.fixture(scope="module")
def procedure_index():  # type: ignore[no-untyped-def]
    from nlu.matching import DEFAULT_DATA_DIR, RULES_FILE, ProcedureIndex, Rules, load_entries

    return ProcedureIndex(load_entries(DEFAULT_DATA_DIR, RAW_DIR), Rules.load(DEFAULT_DATA_DIR / RULES_FILE))


@needs_raw
@pytest.mark.parametrize(("query", "code"), COLLOQUIAL)
def test_colloquial_names_link(procedure_index, query: str, code: str) -> None:  # type: ignore[no-untyped-def]
    assert "Cấp xã" in raw(code)["cap_thuc_hien"]
    linked = procedure_index.link(query)
    assert linked is not None and linked.code == code, (query, procedure_index.search(query, limit=3))
