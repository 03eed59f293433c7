"""The procedure catalogue as the bot reads it: imported entries plus the curated overlay.

data/catalog/procedures/<code>.json comes from `motcua catalog import` (never hand-edited);
data/catalog/curated/<code>.yml holds what people checked and wrote for the most used procedures;
data/catalog/aliases.yml maps codes to colloquial names. Curated values win over imported ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.parse import Document, LegalBasis
from bot.config import DATA_DIR

__all__ = ["Catalog", "Document", "LegalBasis", "Mode", "Procedure"]

log = logging.getLogger(__name__)

COMMUNE_LEVEL = "Cấp xã"


@dataclass(frozen=True)
class Mode:
    """One way to submit: online, by post or in person, with its time and fee."""

    mode: str  # online | postal | in_person
    label: str
    duration_value: float | int | None
    duration_unit: str | None  # working_day | day | month | hour
    duration_text: str
    fee_text: str
    fee_amount: int | None  # đồng; 0 = free
    description: str = ""
    note: str | None = None  # curated remark
    curated: bool = False  # figures written by a curator (texts meant for citizens)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "label": self.label,
            "duration": {
                "value": self.duration_value, "unit": self.duration_unit, "text": self.duration_text,
            },
            "fee": {"text": self.fee_text, "amount": self.fee_amount},
            "description": self.description,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    short_name: str
    field: str
    levels: tuple[str, ...]
    applicants: str
    decision: str
    url: str
    steps: str
    modes: tuple[Mode, ...]
    documents: tuple[Document, ...]
    conditions: str | None
    result: str
    legal_basis: tuple[LegalBasis, ...]
    anomalies: tuple[str, ...]
    source: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    curated: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    listed_aliases: tuple[str, ...] = ()  # from data/catalog/aliases.yml
    agency_kind: str = "centre"  # bot/catalog/competence.py KINDS
    agency_names: tuple[str, ...] = ()  # the portal's names of the competent agencies, normalised
    channels: tuple[str, ...] = ()  # online channels the portal page names (data/catalog/agencies.yml)

    @property
    def summary(self) -> str | None:
        value = (self.curated or {}).get("summary")
        return str(value).strip() if value else None

    @property
    def aliases(self) -> tuple[str, ...]:
        own = [str(a) for a in (self.curated or {}).get("aliases") or ()]
        return tuple(dict.fromkeys([*own, *self.listed_aliases]))

    @property
    def checklist(self) -> list[dict[str, Any]]:
        return list((self.curated or {}).get("checklist") or [])

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list((self.curated or {}).get("fields") or [])

    @property
    def at_commune(self) -> bool:
        return COMMUNE_LEVEL in self.levels

    def to_dict(self) -> dict[str, Any]:
        """The merged entry: the import schema, plus `curated` and `aliases`."""
        return {
            "code": self.code,
            "name": self.name,
            "short_name": self.short_name,
            "field": self.field,
            "levels": list(self.levels),
            "applicants": self.applicants,
            "decision": self.decision,
            "url": self.url,
            "steps": self.steps,
            "modes": [m.to_dict() for m in self.modes],
            "documents": [d.to_dict() for d in self.documents],
            "conditions": self.conditions,
            "result": self.result,
            "legal_basis": [lb.to_dict() for lb in self.legal_basis],
            "anomalies": list(self.anomalies),
            "agency": {"kind": self.agency_kind, "names": list(self.agency_names)},
            "channels": list(self.channels),
            "source": dict(self.source),
            "aliases": list(self.aliases),
            "curated": self.curated,
        }


class Catalog:
    """All procedures, by code. Build with `Catalog.load()` (cached per data directory)."""

    def __init__(self, procedures: dict[str, Procedure]) -> None:
        self._by_code = dict(sorted(procedures.items()))

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Catalog:
        return _load(str((data_dir or DATA_DIR).resolve()))

    @staticmethod
    def clear_cache() -> None:
        _load.cache_clear()

    def get(self, code: str) -> Procedure | None:
        return self._by_code.get((code or "").strip())

    def all(self) -> list[Procedure]:
        return list(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code


@lru_cache(maxsize=8)
def _load(data_dir: str) -> Catalog:
    root = Path(data_dir) / "catalog"
    aliases = _read_aliases(root / "aliases.yml")
    procedures: dict[str, Procedure] = {}
    for path in sorted((root / "procedures").glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("catalogue entry unreadable: %s (%s)", path.name, type(exc).__name__)
            continue
        curated = _read_curated(root / "curated" / f"{entry['code']}.yml")
        procedures[entry["code"]] = from_entry(entry, curated, aliases.get(entry["code"], ()))
    log.info("catalogue loaded: %d procedures, %d curated",
             len(procedures), sum(p.curated is not None for p in procedures.values()))
    return Catalog(procedures)


def _read_yaml(path: Path) -> Any:
    """A YAML file, or None when it is unreadable (logged: one bad curated file must not take
    the whole catalogue down)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("catalogue file unreadable: %s (%s)", path.name, type(exc).__name__)
        return None


def _read_aliases(path: Path) -> dict[str, tuple[str, ...]]:
    if not path.is_file():
        return {}
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        log.warning("aliases.yml is not a mapping; ignored")
        return {}
    return {str(code): tuple(str(a) for a in names or () if a) if isinstance(names, list) else (str(names),)
            for code, names in data.items()}


def _read_curated(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = _read_yaml(path)
    if not isinstance(data, dict):
        log.warning("curated file is not a mapping: %s", path.name)
        return None
    return data


def from_entry(entry: dict[str, Any], curated: dict[str, Any] | None = None,
               listed_aliases: tuple[str, ...] = ()) -> Procedure:
    """A Procedure from an imported entry, with the curated overlay applied."""
    modes = tuple(_mode(m) for m in entry.get("modes") or ())
    if curated and curated.get("modes"):
        modes = _merge_modes(modes, curated["modes"])
    agency = entry.get("agency") or {}
    return Procedure(
        code=entry["code"],
        name=entry["name"],
        short_name=str((curated or {}).get("short_name") or entry["short_name"]),
        field=entry.get("field") or "",
        levels=tuple(entry.get("levels") or ()),
        applicants=entry.get("applicants") or "",
        decision=entry.get("decision") or "",
        url=entry.get("url") or "",
        steps=entry.get("steps") or "",
        modes=modes,
        documents=tuple(
            Document(name=d["name"], form=d.get("form"), quantity=d.get("quantity"), group=d.get("group"))
            for d in entry.get("documents") or ()
        ),
        conditions=entry.get("conditions"),
        result=entry.get("result") or "",
        legal_basis=tuple(LegalBasis(lb["title"], lb["number"]) for lb in entry.get("legal_basis") or ()),
        anomalies=tuple(entry.get("anomalies") or ()),
        source=dict(entry.get("source") or {}),
        curated=curated,
        listed_aliases=tuple(listed_aliases),
        agency_kind=str(agency.get("kind") or "centre"),
        agency_names=tuple(str(n) for n in agency.get("names") or ()),
        channels=tuple(str(c) for c in entry.get("channels") or ()),
    )


def _mode(m: dict[str, Any]) -> Mode:
    duration = m.get("duration") or {}
    fee = m.get("fee") or {}
    return Mode(
        mode=m["mode"],
        label=m.get("label") or "",
        duration_value=duration.get("value"),
        duration_unit=duration.get("unit"),
        duration_text=duration.get("text") or "",
        fee_text=fee.get("text") or "",
        fee_amount=fee.get("amount"),
        description=m.get("description") or "",
        note=m.get("note"),
    )


_LABELS = {"online": "Trực tuyến", "postal": "Dịch vụ bưu chính", "in_person": "Trực tiếp"}


def _merge_modes(imported: tuple[Mode, ...], curated: list[dict[str, Any]]) -> tuple[Mode, ...]:
    """A curated mode replaces every imported row of that mode (the commune's own figures);
    imported modes the curator did not mention stay as they are."""
    by_mode: dict[str, Mode] = {}
    for c in curated:
        if not isinstance(c, dict) or c.get("mode") not in _LABELS:
            continue
        base = next((m for m in imported if m.mode == c["mode"]), None)
        duration = c.get("duration") or {}
        fee = c.get("fee") or {}
        by_mode[c["mode"]] = Mode(
            mode=c["mode"],
            label=base.label if base else _LABELS[c["mode"]],
            duration_value=duration.get("value", base.duration_value if base else None),
            duration_unit=duration.get("unit", base.duration_unit if base else None),
            # A time taken from the law where the portal has none: its text cites the article.
            duration_text=str(duration.get("text") or (f"{duration.get('value')} ({duration['law']})"
                                                       if duration.get("law") else "")
                              or (base.duration_text if base else "")),
            # A curated text replaces the portal's even when empty (an internal or wrong portal note).
            fee_text=str(fee.get("text") or "") if "text" in fee else (base.fee_text if base else ""),
            fee_amount=fee.get("amount", base.fee_amount if base else None),
            description=base.description if base else "",
            note=c.get("note"),
            curated=True,
        )
    out: list[Mode] = []
    for m in imported:
        if m.mode in by_mode:
            if by_mode[m.mode] not in out:
                out.append(by_mode[m.mode])
        else:
            out.append(m)
    out.extend(m for m in by_mode.values() if m not in out)
    return tuple(out)
