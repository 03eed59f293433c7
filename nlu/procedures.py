"""The catalogue as the matcher reads it, and the one tidier of procedure names.

`load_entries` reads the imported catalogue (data/catalog/procedures/*.json), or before the import the
portal's raw pages, and lays the curated short names and aliases over it. `tidy_name` is also what the
catalogue import (bot/catalog/parse.py) uses, so both show and match a name the same way.

Standard library and PyYAML only: this module also runs inside the Rasa server (Python 3.10), which is
why it cannot use the importer's parser (bot/catalog/parse.py needs Python 3.11).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_LEADING_KIND = re.compile(r"^(?:thủ\s+tục|tthc)\s+", re.IGNORECASE)  # "Thủ tục đăng ký ..." / "TTHC ..."


@dataclass(frozen=True)
class Entry:
    """One catalogue procedure as far as matching needs it."""

    code: str
    name: str
    short_name: str
    field: str = ""
    levels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()



def default_raw_dir(data_dir: Path) -> Path:
    """The portal files next to the repository: <repo>/../shared/catalog/raw."""
    return data_dir.resolve().parent.parent / "shared" / "catalog" / "raw"



def tidy_name(name: str) -> str:
    """A procedure name on one line: NFC, single spaces, without the portal's leading "Thủ tục" (or
    "TTHC") and trailing ".:;", first letter capital."""
    text = " ".join(unicodedata.normalize("NFC", name or "").split())
    text = _LEADING_KIND.sub("", text).strip(" .:;")
    return text[:1].upper() + text[1:]


def _levels(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, Iterable):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("catalogue file unreadable: %s (%s)", path.name, type(exc).__name__)
        return None
    return data if isinstance(data, dict) else None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("catalogue file unreadable: %s (%s)", path.name, type(exc).__name__)
        return None


# Where code, name, field and levels are in an imported procedure file, and in a raw portal page.
_IMPORTED = ("code", "name", "field", "levels")
_PORTAL = ("ma_thu_tuc", "ten_thu_tuc", "linh_vuc", "cap_thuc_hien")


def _read_entries(folder: Path, keys: tuple[str, str, str, str]) -> list[Entry]:
    code_key, name_key, field_key, levels_key = keys
    out = []
    for path in sorted(folder.glob("*.json")):
        d = _read_json(path)
        if not d or not d.get(code_key) or not d.get(name_key):
            continue
        name = tidy_name(str(d[name_key]))
        out.append(Entry(
            code=str(d[code_key]).strip(),
            name=name,
            short_name=str(d.get("short_name") or name).strip(),  # imported files only
            field=" ".join(str(d.get(field_key) or "").split()),
            levels=_levels(d.get(levels_key)),
        ))
    return out


def _str_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def load_entries(data_dir: Path, raw_dir: Path | None = None) -> list[Entry]:
    """The catalogue: data/catalog/procedures/*.json when imported, else the raw portal files;
    then aliases and short names from data/catalog/curated/*.yml and data/catalog/aliases.yml."""
    catalog = data_dir / "catalog"
    procedures = catalog / "procedures"
    entries = _read_entries(procedures, _IMPORTED) if procedures.is_dir() else []
    if not entries:
        entries = _read_entries(raw_dir or default_raw_dir(data_dir), _PORTAL)
    aliases: dict[str, list[str]] = defaultdict(list)
    short: dict[str, str] = {}
    curated = catalog / "curated"
    for path in sorted(curated.glob("*.yml")) if curated.is_dir() else ():
        d = _read_yaml(path)
        if not isinstance(d, dict):
            continue
        code = str(d.get("code") or path.stem)
        aliases[code] += _str_list(d.get("aliases"))
        if isinstance(d.get("short_name"), str) and d["short_name"].strip():
            short[code] = d["short_name"].strip()
    table = _read_yaml(catalog / "aliases.yml") if (catalog / "aliases.yml").is_file() else None
    if isinstance(table, dict):
        for code, values in table.items():
            aliases[str(code)] += _str_list(values)
    out = []
    for e in entries:
        extra = tuple(dict.fromkeys(a.strip() for a in (*e.aliases, *aliases.get(e.code, ())) if a.strip()))
        out.append(Entry(e.code, e.name, short.get(e.code, e.short_name), e.field, e.levels, extra))
    log.info("catalogue for matching: %d procedures, %d aliases", len(out), sum(len(e.aliases) for e in out))
    return out


# ---------------------------------------------------------------------------------------------------
