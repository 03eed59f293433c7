"""Import the portal's raw procedure pages into the project catalogue (data/catalog/procedures/).

One JSON file per procedure, written deterministically (same input -> byte-identical output), with
every reading problem flagged in the entry's `anomalies` and listed in data/catalog/import-report.md.
Curated overlays (data/catalog/curated/*.yml) live elsewhere and are never touched here.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.agency import Agency
from bot.catalog import competence, parse
from nlu.text import fold

log = logging.getLogger(__name__)

SOURCE = "dichvucong.gov.vn"
# Page titles that name a publishing decision, not a procedure (seen on several "Người có công" codes).
_DECISION_TITLE = re.compile(
    r"^(?:công bố danh mục|quy trình nội bộ|quyết định (?:công bố|ban hành|phê duyệt))", re.IGNORECASE
)
_STOPWORDS = frozenset((
    "va", "cua", "cho", "cac", "trong", "theo", "voi", "doi", "tai", "tu", "den", "la", "duoc", "mot", "so",
    "ve", "thuc", "hien", "thu", "tuc", "hanh", "chinh", "tren", "dia", "ban", "giai", "doan", "nam", "cap",
    "co", "quan", "nguoi", "hoac", "khi", "nay", "do", "da",
))
# Below this share of the name's words found in the page, the name is taken as wrong (no correct
# page scores under 0.27 on the 588 pages; decision titles are caught by _DECISION_TITLE).
NAME_FIT_THRESHOLD = 0.25


@dataclass
class ImportResult:
    """What one import run produced: entries by code, counters for the report."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    legal_repaired: Counter[str] = field(default_factory=Counter)  # code -> legal-basis entries mended

    @property
    def anomaly_counts(self) -> Counter[str]:
        return Counter(a for e in self.entries.values() for a in e["anomalies"])


def content_words(text: str) -> set[str]:
    return {w for w in fold(text, abbreviations={}).split() if len(w) > 1 and not w.isdigit()} - _STOPWORDS


def name_fit(name: str, body: str) -> float:
    """Share of the name's content words that occur in the page body (steps, documents, result)."""
    words = content_words(name)
    if not words:
        return 0.0
    return len(words & content_words(body)) / len(words)


def build_entry(raw: dict[str, Any], file_name: str, table: competence.Table | None = None) -> dict[str, Any]:
    """The catalogue entry for one raw page, with its anomalies."""
    table = table or competence.load_table()
    sections = parse.split_sections(raw)
    anomalies: list[str] = []
    code = parse.normalize_space(raw.get("ma_thu_tuc")) or Path(file_name).stem
    name = parse.official_name(raw)
    result = parse.parse_result(sections.result)
    steps = parse.normalize_block(sections.steps)
    documents = parse.parse_documents(sections.documents)
    modes = parse.parse_modes(sections.modes)

    body = " ".join([steps, result, *(d.name for d in documents)])
    short = parse.short_name(name)
    if _DECISION_TITLE.match(name) or name_fit(name, body) < NAME_FIT_THRESHOLD:
        anomalies.append("name_mismatch")
        short = _name_from_result(result) or short
    if not modes:
        anomalies.append("no_modes")
    for row in modes:
        anomalies.extend(row.anomalies)
    if not documents:
        anomalies.append("no_documents")
    if not result:
        anomalies.append("no_result")
    agency = competence.classify(raw, table)
    if agency.source == "default":
        anomalies.append("agency_unstated")
    legal = parse.parse_legal_basis(sections.legal)
    anomalies.extend(a for lb in legal for a in lb.anomalies)
    page = " ".join([steps, sections.modes])

    return {
        "code": code,
        "name": name,
        "short_name": short,
        "field": parse.normalize_space(raw.get("linh_vuc")),
        "levels": [lv.strip() for lv in (raw.get("cap_thuc_hien") or "").split(",") if lv.strip()],
        "applicants": parse.normalize_space(raw.get("doi_tuong_thuc_hien")),
        "decision": parse.normalize_space(raw.get("so_quyet_dinh")),
        "url": (raw.get("detail_url") or "").strip(),
        "steps": steps,
        "modes": [row.to_dict() for row in modes],
        "documents": [d.to_dict() for d in documents],
        "conditions": parse.none_if_empty(sections.conditions),
        "result": result,
        "legal_basis": [lb.to_dict() for lb in legal],
        "agency": agency.to_dict(),
        "channels": competence.channels_of(page, any(m.mode == "online" for m in modes), table,
                                           str(raw.get("linh_vuc") or "")),
        "anomalies": sorted(set(anomalies)),
        "source": {"file": f"{code}.json", "imported_from": SOURCE},
    }


def _name_from_result(result: str) -> str | None:
    """'Quyết định về việc giải quyết chế độ X' -> 'Giải quyết chế độ X': a usable display name
    when the page title is wrong."""
    first = result.split(";")[0].strip()
    m = re.match(r"^Quyết định (?:về việc |v/v )?(.+)$", first, re.IGNORECASE)
    if not m:
        return None
    return parse.short_name(m.group(1))


def render(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, indent=2) + "\n"


def import_catalog(source: Path, catalog_dir: Path) -> ImportResult:
    """Read every raw page in `source`, write `catalog_dir`/procedures/<code>.json and the report.

    Files are rewritten only when their content changes; entries whose source page is gone are
    removed, so the directory always mirrors the last import exactly.
    """
    files = sorted(source.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no raw procedure files (*.json) in {source}")
    out_dir = catalog_dir / "procedures"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ImportResult()
    table = competence.load_table(catalog_dir.parent)
    agencies: dict[str, str] = {}  # code -> "Cơ quan thực hiện", only to tell namesakes apart
    for path in files:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path.name} is not a JSON procedure page ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{path.name} is not a JSON procedure page (expected an object)")
        entry = build_entry(raw, path.name, table)
        sections = parse.split_sections(raw)
        repaired = sum(lb.repaired for lb in parse.parse_legal_basis(sections.legal))
        if repaired:
            result.legal_repaired[entry["code"]] = repaired
        if entry["code"] in result.entries:
            raise ValueError(f"duplicate procedure code {entry['code']} in {path.name}")
        result.entries[entry["code"]] = entry
        agencies[entry["code"]] = parse.normalize_space(raw.get("co_quan_thuc_hien"))
    _flag_duplicate_names(result.entries)
    _distinguish_short_names(result.entries, agencies)
    for code, entry in result.entries.items():
        if _write_if_changed(out_dir / f"{code}.json", render(entry)):
            result.written += 1
        else:
            result.unchanged += 1
    for stale in sorted(out_dir.glob("*.json")):
        if stale.stem not in result.entries:
            stale.unlink()
            result.removed += 1
    _write_if_changed(catalog_dir / "import-report.md", report(result, *_agency_settings(catalog_dir)))
    log.info("catalog import: %d entries, %d written, %d unchanged, %d removed",
             len(result.entries), result.written, result.unchanged, result.removed)
    return result


def _flag_duplicate_names(entries: dict[str, dict[str, Any]]) -> None:
    """Several codes with one official name cannot be told apart by a citizen: flag them all."""
    names = Counter(e["name"] for e in entries.values())
    for entry in entries.values():
        if names[entry["name"]] > 1:
            entry["anomalies"] = sorted({*entry["anomalies"], "duplicate_name"})


def _distinguish_short_names(entries: dict[str, dict[str, Any]], agencies: dict[str, str]) -> None:
    """Codes whose display names collide get names that tell them apart (parse.distinct_short_names),
    then, if still equal, their field ("Nộp dần tiền thuế nợ (Hải quan)"), or the first agency that
    carries it out when the field's words are already in the name ("... (Cục Thuế)"). Codes that are
    one portal page under several codes (same URL, same content) stay equal: nothing honest tells
    them apart; they are flagged `shared_page`."""
    pages = Counter(e["url"] for e in entries.values() if e["url"])
    for entry in entries.values():
        if entry["url"] and pages[entry["url"]] > 1:
            entry["anomalies"] = sorted({*entry["anomalies"], "shared_page"})
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in entries.values():
        groups.setdefault(entry["short_name"], []).append(entry)
    for group in groups.values():
        if len(group) < 2 or len({e["url"] for e in group}) < 2:
            continue
        named = [e for e in group if "name_mismatch" not in e["anomalies"]]
        for entry, short in zip(named, parse.distinct_short_names([e["name"] for e in named]), strict=True):
            entry["short_name"] = short
        ties = Counter(e["short_name"] for e in group)
        fields = Counter((e["short_name"], e["field"]) for e in group)
        for entry in group:
            key = (entry["short_name"], entry["field"])
            if ties[entry["short_name"]] > 1 and fields[key] == 1 and entry["field"]:
                label = entry["field"]
                if content_words(label) <= content_words(entry["short_name"]):
                    label = _first_agency(agencies.get(entry["code"], "")) or label
                entry["short_name"] = f"{entry['short_name']} ({label})"


def _first_agency(text: str) -> str:
    """'Cục Thuế - Bộ tài chính, Thuế tỉnh, thành phố' -> 'Cục Thuế'."""
    first = re.split(r",| - ", text, maxsplit=1)[0].strip()
    return "" if not first or first == parse.NO_INFO else first


def _write_if_changed(path: Path, content: str) -> bool:
    data = content.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def parse_rates(entries: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(parsed, total) over all mode rows: fee amount known, duration value known, unit stated."""
    modes = [m for e in entries.values() for m in e["modes"]]
    return {
        "fee": (sum(m["fee"]["amount"] is not None for m in modes), len(modes)),
        "duration": (sum(m["duration"]["value"] is not None for m in modes), len(modes)),
        "duration_unit_stated": (
            sum(m["duration"]["value"] is not None and bool(re.search(r"\D", m["duration"]["text"]))
                for m in modes),
            len(modes),
        ),
    }


ANOMALY_HELP = {
    "name_mismatch": "official name does not fit the page (steps, documents, result); display name taken "
                     "from the result document where possible",
    "duration_without_unit": "time is a bare number; read as working days",
    "duration_missing": "no processing time on the portal (\"Không có thông tin\" / \"Không quy định\")",
    "duration_unparsed": "time text could not be read as a number and unit",
    "fee_missing": "no fee on the portal (\"Không có thông tin\")",
    "fee_unparsed": "fee text could not be read",
    "fee_amount_suspect": "portal amount below 1,000 đồng; amount taken from the fee note when it states "
                          "the same figure in thousands/hundreds, else left empty",
    "fee_foreign_currency": "fee in USD (no amount in đồng)",
    "fee_set_locally": "portal says \"Miễn phí\" but the note says the province (HĐND) sets the fee",
    "duplicate_name": "the same official name is used by other codes",
    "shared_page": "several codes point to one portal page (same URL and content); they keep one display "
                   "name, since the source offers nothing that tells them apart",
    "no_documents": "empty document list",
    "no_modes": "no submission-mode rows could be read",
    "no_result": "no result document on the page",
    "agency_unstated": "the page names no competent agency and its field is not in "
                       "data/catalog/agencies.yml; taken as the commune's (the procedure is at \"Cấp xã\") "
                       "— check with the officers",
    "legal_number_odd": "a legal-basis number could not be cleaned into a known shape (e.g. \"24/2024\" "
                        "without its type); shown as the portal gives it",
}

KIND_LABELS = {
    "centre": "this centre (UBND xã)", "police": "police (Công an)", "tax": "tax", "customs": "customs",
    "social_insurance": "social insurance", "treasury": "state treasury",
    "land_office": "land registration office",
    "other": "other agency",
}


def routes_by_kind(entries: dict[str, dict[str, Any]], accepted: frozenset[str], hosted: frozenset[str],
                   ) -> dict[str, Counter[str]]:
    """kind -> Counter(route): how many procedures of each competent-agency kind this centre takes through
    the bot, in person, or leaves to the other agency (the same rule as bot/catalog/routing.py)."""
    out: dict[str, Counter[str]] = {}
    for e in entries.values():
        kind = e["agency"]["kind"]
        receives = kind == competence.CENTRE or kind in hosted
        route = "other_agency" if not receives else ("bot" if e["code"] in accepted else "in_person")
        out.setdefault(kind, Counter())[route] += 1
    return out


def _agency_settings(catalog_dir: Path) -> tuple[frozenset[str], frozenset[str]]:
    """accepted_procedures and hosted_desks of the agency file next to the catalogue (none if absent)."""
    path = catalog_dir.parent / "agency.yml"
    if not path.is_file():
        return frozenset(), frozenset()
    agency = Agency.load(path)
    return agency.accepted_procedures, agency.hosted_desks


def report(result: ImportResult, accepted: frozenset[str] = frozenset(), hosted: frozenset[str] = frozenset(),
           ) -> str:
    """The Markdown anomaly report: totals, parse rates, competent agencies, then every anomaly by code."""
    entries = result.entries
    counts = result.anomaly_counts
    flagged = [c for c, e in entries.items() if e["anomalies"]]
    lines = [
        "# Catalogue import report",
        "",
        f"Source: {SOURCE} (shared/catalog/raw). Generated by `motcua catalog import`; do not edit.",
        "",
        f"- Procedures imported: {len(entries)}",
        f"- Procedures with at least one anomaly: {len(flagged)}",
        f"- Mode rows: {sum(len(e['modes']) for e in entries.values())}",
        f"- Documents: {sum(len(e['documents']) for e in entries.values())}",
        f"- Legal-basis entries: {sum(len(e['legal_basis']) for e in entries.values())}",
        f"- Legal-basis entries repaired at import (a year glued to the number, a number cut or glued to the "
        f"next title, a title quoting its own number): {sum(result.legal_repaired.values())} in "
        f"{len(result.legal_repaired)} procedures; those still unclean are flagged `legal_number_odd`",
    ]
    for label, (ok, total) in parse_rates(entries).items():
        share = 100.0 * ok / total if total else 0.0
        lines.append(f"- Parse rate, {label.replace('_', ' ')}: {ok}/{total} mode rows ({share:.1f}%)")
    every_fee = sum(all(m["fee"]["amount"] is not None for m in e["modes"]) for e in entries.values())
    every_time = sum(all(m["duration"]["value"] is not None for m in e["modes"]) for e in entries.values())
    lines.append(f"- Procedures with a fee amount for every mode: {every_fee}/{len(entries)}")
    lines.append(f"- Procedures with a processing time for every mode: {every_time}/{len(entries)}")
    shorts = Counter(e["short_name"] for e in entries.values())
    shared = [e for e in entries.values() if shorts[e["short_name"]] > 1]
    one_page = sum("shared_page" in e["anomalies"] for e in shared)
    lines.append(f"- Display names shared by several codes: {len({e['short_name'] for e in shared})} names, "
                 f"{len(shared)} procedures ({one_page} of them `shared_page`)")
    desks = ", ".join(sorted(hosted)) or "none"
    lines += ["", "## Competent agencies and where this centre takes them", "",
              "Kind read from the portal's \"Cơ quan thực hiện\" (data/catalog/agencies.yml); routes from "
              f"data/agency.yml (accepted_procedures, hosted_desks: {desks}).", "",
              "| competent agency | procedures | through the bot | in person at the centre | other agency |",
              "| --- | --- | --- | --- | --- |"]
    by_kind = routes_by_kind(entries, accepted, hosted)
    totals: Counter[str] = Counter()
    for kind in competence.KINDS:
        c = by_kind.get(kind)
        if not c:
            continue
        totals.update(c)
        lines.append(f"| {KIND_LABELS[kind]} | {sum(c.values())} | {c['bot']} | {c['in_person']} | "
                     f"{c['other_agency']} |")
    lines.append(f"| **all** | {sum(totals.values())} | {totals['bot']} | {totals['in_person']} | "
                 f"{totals['other_agency']} |")
    lines += ["", "## Anomalies by type", "", "| code | procedures | meaning |", "| --- | --- | --- |"]
    for code, _ in sorted(counts.items()):
        n = sum(code in e["anomalies"] for e in entries.values())
        lines.append(f"| `{code}` | {n} | {ANOMALY_HELP.get(code, '')} |")
    lines += ["", "## Anomalies by procedure", ""]
    for code in sorted(flagged):
        e = entries[code]
        detail = ""
        if "name_mismatch" in e["anomalies"]:
            detail = f" — name “{_clip(e['name'], 90)}”, shown as “{e['short_name']}”"
        lines.append(f"- {code}: {', '.join(e['anomalies'])}{detail}")
    return "\n".join(lines) + "\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
