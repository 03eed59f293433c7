"""What a notification says on each channel, from one set of fields of the dossier.

The chat gets the full message (`bot.dossier_workflow.notification`); ZNS gets the approved template's
parameters (mapping in data/agency.yml, values cut to Zalo's parameter limits); SMS gets one part, without
diacritics unless configured, shortened by dropping the procedure name and then the centre's name, never by
cutting a word.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.agency import Agency
from bot.config import DATA_DIR
from bot.dossier import shown_code, status_label
from bot.models import Dossier
from bot.templates import text

FIELDS = ("code", "status", "procedure", "appointment", "centre")
ZNS_PARAM_MAX = 30  # ZNS "custom label / code / status" parameters hold 30 characters [S]
SMS_GSM_PART = 160
SMS_UNICODE_PART = 70


def fields(dossier: Dossier, agency: Agency | None = None) -> dict[str, str]:
    """The facts every channel's notification is built from."""
    return {
        "code": shown_code(dossier),
        "status": status_label(dossier.status),
        "procedure": dossier.procedure_name or "",
        # No date before an officer accepts (or beyond the trusted holiday list): nothing is promised.
        "appointment": dossier.appointment_date.strftime("%d/%m/%Y") if dossier.appointment_date else "",
        "centre": (agency or Agency.load()).name,
    }


@lru_cache(maxsize=4)
def _config(path: str) -> dict[str, Any]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    zns = ((raw.get("notifications") or {}).get("zns")) or {}
    templates = {str(k): str(v) for k, v in (zns.get("templates") or {}).items() if v}
    params = {str(k): str(v) for k, v in (zns.get("params") or {}).items()}
    unknown = sorted(set(params.values()) - set(FIELDS))
    if unknown:
        raise ValueError(f"agency.yml notifications.zns.params: unknown field(s) {unknown}; use {FIELDS}")
    return {"templates": templates, "params": params}


def zns_template(status: str, default: str, path: Path = DATA_DIR / "agency.yml") -> str:
    """The approved template for `status` (data/agency.yml), else ZALO_ZNS_TEMPLATE_ID."""
    return _config(str(path))["templates"].get(status, default)


def zns_data(values: dict[str, str], path: Path = DATA_DIR / "agency.yml") -> dict[str, str]:
    """The template's parameters filled from our fields, each within Zalo's length limit."""
    return {param: _words(values.get(field, ""), ZNS_PARAM_MAX)
            for param, field in _config(str(path))["params"].items()}


def without_diacritics(value: str) -> str:
    """Vietnamese without its marks (đ -> d): what a non-Unicode SMS can carry."""
    value = value.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.encode("ascii", "ignore").decode("ascii")


def _words(value: str, limit: int) -> str:
    """`value` within `limit` characters, cut between words (a single longer word is left out)."""
    if len(value) <= limit:
        return value
    kept = ""
    for word in value.split():
        candidate = f"{kept} {word}" if kept else word
        if len(candidate) > limit:
            break
        kept = candidate
    return kept


def sms_text(values: dict[str, str], unicode: bool) -> str:
    """One SMS part: the fullest wording that fits, else the centre's name shortened between words."""
    limit = SMS_UNICODE_PART if unicode else SMS_GSM_PART
    prepared = dict(values) if unicode else {k: without_diacritics(v) for k, v in values.items()}

    def render(key: str, **over: str) -> str:
        body = text(key, **{**prepared, **over})
        return body if unicode else without_diacritics(body)

    for key in ("notify.sms_full", "notify.sms_short"):
        body = render(key)
        if len(body) <= limit:
            return body
    bare = render("notify.sms_bare")
    room = limit - len(render("notify.sms_short", centre=""))
    centre = _words(prepared["centre"], room) if room > 0 else ""
    if centre:
        return render("notify.sms_short", centre=centre)
    return bare if len(bare) <= limit else _words(bare, limit)
