"""Who carries out a procedure: the portal's "Cơ quan thực hiện" read into an agency kind and names.

The portal lists agencies as one comma-joined string whose names themselves hold commas ("Ủy ban Nhân
dân xã, phường, thị trấn", "Thuế tỉnh, thành phố"), with stray non-breaking spaces and mixed case. This
module cuts it back into names, normalises them, and picks the kind the bot routes by (this commune,
police, tax, customs, social insurance, treasury, land registration office, other), using the table in
data/catalog/agencies.yml. The importer stores the result; answers and routing read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import DATA_DIR
from nlu.text import strip_diacritics

KINDS = ("centre", "police", "tax", "customs", "social_insurance", "treasury", "land_office", "other")
CENTRE = "centre"
OTHER = "other"
NO_INFO = "Không có thông tin"
# Kinds checked before the commune: "Công an cấp xã" is police although it says "cấp xã".
_ORDER = ("police", "tax", "customs", "social_insurance", "treasury", "land_office", CENTRE)
# Level words, lowest first: the office a citizen of the commune goes to is named first.
_LEVELS = (("cap xa", 0), ("co so", 0), ("khu vuc", 1), ("cua khau", 1), ("cap huyen", 2), ("huyen", 2),
           ("tinh", 3), ("cuc", 4), ("bo ", 5))
_CASE_FIXES = (
    (re.compile(r"\bU[ỷỶ] ban\b"), "Ủy ban"),
    (re.compile(r"Ủy ban Nhân dân", re.IGNORECASE), "Ủy ban nhân dân"),
    (re.compile(r"\bcấp (Xã|Tỉnh|Huyện)\b"), lambda m: f"cấp {m.group(1).lower()}"),
    (re.compile(r"\bBộ tài chính\b"), "Bộ Tài chính"), (re.compile(r"\bPhòng Tư Pháp\b"), "Phòng Tư pháp"),
    (re.compile(r"\bVăn phòng Đăng ký đất đai\b"), "Văn phòng đăng ký đất đai"),
)


def folded(value: str) -> str:
    """Lower case, no diacritics, words only: the form the agencies.yml phrases are written in."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", strip_diacritics(value or "").lower()).split())


@dataclass(frozen=True)
class Competence:
    """The kind of agency that handles a procedure, its names as the portal gives them (normalised),
    and where that was read (`co_quan_thuc_hien`, `co_quan_co_tham_quyen`, `dia_chi_tiep_nhan`,
    `field`, or `default` when nothing named an agency)."""

    kind: str
    names: tuple[str, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "source": self.source}


@dataclass(frozen=True)
class Table:
    """data/catalog/agencies.yml, parsed."""

    kinds: dict[str, dict[str, Any]]
    fields: dict[str, str]
    commune_fields: frozenset[str]
    channels: dict[str, dict[str, Any]]
    field_channels: dict[str, tuple[str, ...]]

    def label(self, kind: str) -> str:
        return str((self.kinds.get(kind) or self.kinds[OTHER]).get("label") or "")


def load_table(data_dir: Path | None = None) -> Table:
    """The table of `data_dir` (default data/); a data directory without one uses the project's."""
    own = data_dir is not None and (data_dir / "catalog" / "agencies.yml").is_file()
    root = data_dir if own and data_dir is not None else DATA_DIR
    return _table(str(root.resolve()))


@lru_cache(maxsize=4)
def _table(data_dir: str) -> Table:
    raw = yaml.safe_load((Path(data_dir) / "catalog" / "agencies.yml").read_text(encoding="utf-8")) or {}
    kinds = {str(k): dict(v or {}) for k, v in (raw.get("kinds") or {}).items()}
    unknown = set(kinds) - set(KINDS)
    if unknown or OTHER not in kinds:
        raise ValueError(f"agencies.yml: kinds must be among {KINDS} and include {OTHER!r}; "
                         f"got {sorted(unknown)}")
    fields = {folded(str(k)): str(v) for k, v in (raw.get("fields") or {}).items()}
    bad = {v for v in fields.values() if v not in KINDS}
    if bad:
        raise ValueError(f"agencies.yml: fields map to unknown kinds {sorted(bad)}")
    return Table(kinds=kinds, fields=fields,
                 commune_fields=frozenset(folded(str(f)) for f in raw.get("commune_fields") or ()),
                 channels={str(k): dict(v or {}) for k, v in (raw.get("channels") or {}).items()},
                 field_channels={folded(str(k)): tuple(str(c) for c in v or ())
                                 for k, v in (raw.get("field_channels") or {}).items()})


def split_names(text: str | None) -> list[str]:
    """'Thuế tỉnh, thành phố, Thuế cơ sở' -> ['Thuế tỉnh, thành phố', 'Thuế cơ sở']: a piece that starts
    in lower case continues the previous name. Names are normalised (spaces, case, 'Uỷ', final dot)."""
    clean = " ".join((text or "").replace("\xa0", " ").split())
    if not clean or clean == NO_INFO:
        return []
    names: list[str] = []
    for piece in (p.strip() for p in clean.split(",")):
        if not piece:
            continue
        if names and piece[:1].islower():
            names[-1] = f"{names[-1]}, {piece}"
        else:
            names.append(piece)
    out = []
    for name in names:
        name = name.rstrip(" .;")
        for pattern, repl in _CASE_FIXES:
            name = pattern.sub(repl, name)  # type: ignore[arg-type]
        name = name[:1].upper() + name[1:]
        if name and name not in out:
            out.append(name)
    return out


def kind_of_name(name: str, table: Table) -> str:
    key = f" {folded(name)} "
    if key.startswith(" bo "):
        return OTHER  # a ministry ("Bộ Công an, Bộ Quốc phòng, ...") is not the commune's police
    for kind in _ORDER:
        for phrase in (table.kinds.get(kind) or {}).get("match") or ():
            if f" {folded(str(phrase))} " in key:
                return kind
    return OTHER


def _level(name: str) -> int:
    key = folded(name) + " "
    return min((rank for word, rank in _LEVELS if word in key), default=9)


def classify(raw: dict[str, Any], table: Table) -> Competence:
    """The competent agency of one raw portal page.

    The page's "Cơ quan thực hiện" decides; when it says nothing, the competent authority or reception
    address fields, then the field (lĩnh vực), then the commune (the page is at "Cấp xã" and names no
    one else). Fields the commune handles by law (hộ tịch, chứng thực, …) are the commune's whatever
    other bodies are also listed. Among several kinds, the commune wins (its centre receives), then
    the first kind named.
    """
    field = folded(str(raw.get("linh_vuc") or ""))
    for source in ("co_quan_thuc_hien", "co_quan_co_tham_quyen", "dia_chi_tiep_nhan"):
        names = split_names(str(raw.get(source) or ""))
        if source == "dia_chi_tiep_nhan":
            names = [n for n in names if len(n) <= 80]  # long addresses and sentences are no names
        if not names:
            continue
        kinds = [kind_of_name(n, table) for n in names]
        if field in table.commune_fields or CENTRE in kinds:
            kind = CENTRE
        else:
            kind = next((k for k in kinds if k != OTHER), OTHER)
        ordered = sorted((n for n, k in zip(names, kinds, strict=True) if k == kind or kind == OTHER),
                         key=_level)
        if kind == CENTRE and field in table.commune_fields and CENTRE not in kinds:
            ordered = []  # the portal lists others (notaries…); the commune is the one at this level
        return Competence(kind, tuple(ordered), source)
    if field in table.fields:
        return Competence(table.fields[field], (), "field")
    return Competence(CENTRE, (), "field" if field in table.commune_fields else "default")


def channels_of(page_text: str, has_online: bool, table: Table, field: str = "") -> list[str]:
    """Online channels the page itself (or its field, `field_channels`) names, as ids of agencies.yml
    `channels`, only when the page has an online submission mode; the national portal is always one of
    them then (the page is on it)."""
    if not has_online:
        return []
    key = f" {folded(page_text)} "
    named = set(table.field_channels.get(folded(field), ()))
    found = [cid for cid, ch in table.channels.items()
             if cid in named or any(f" {folded(str(p))} " in key for p in ch.get("find") or ())]
    if "national_portal" in table.channels and "national_portal" not in found:
        found.append("national_portal")
    return found
