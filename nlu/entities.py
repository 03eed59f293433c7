"""Pattern entities found in chat text: dossier codes, phone numbers, citizen IDs and dates.

Spans refer to `nlu.text.clean(text)` (same length as the NFC input). Values are normalised:
dossier codes upper case, phones as +84XXXXXXXXX, IDs as 12 digits, dates as ISO yyyy-mm-dd.
Standard library only: this module runs inside the Rasa server too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from nlu.text import clean, strip_diacritics

DOSSIER_CODE = re.compile(r"\b(\d{3}\.\d{2}\.\d{2}\.[A-Za-z]\d{2})\s*-\s*(\d{6})\s*-\s*(\d{4})\b")
# Vietnamese mobiles: 0 or 84 / +84, then a mobile prefix digit 3/5/7/8/9 and 8 more digits,
# optionally grouped by spaces, dots or dashes.
PHONE = re.compile(r"(?<![\d+])(?:\+?84|0)[\s.\-]?([35789](?:[\s.\-]?\d){8})(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)(\d{3}[\s.]?\d{3}[\s.]?\d{3}[\s.]?\d{3})(?!\d)")
NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})(?!\d)")
# "15 tháng 10 năm 2026", "ngày 5 thg 3 2026", matched on the diacritics-free form (same length).
WORDED_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s+(?:thang|thg|th)\s*(\d{1,2})(?:\s*(?:nam|,|/)?\s*(\d{4}))?(?!\d)", re.IGNORECASE
)


@dataclass(frozen=True)
class Found:
    entity: str
    value: str
    start: int
    end: int


def _to_date(day: str, month: str, year: str | None) -> str | None:
    y = int(year) if year else None
    if y is not None and y < 100:
        y += 2000 if y < 70 else 1900
    try:
        checked = date(y or 2000, int(month), int(day))  # 2000 is a leap year: 29/02 stays valid
    except ValueError:
        return None
    # Without a year the value is ISO 8601's "--MM-DD"; the dialogue decides which year is meant.
    return checked.isoformat() if y else f"--{checked.month:02d}-{checked.day:02d}"


def normalise_phone(raw: str) -> str | None:
    m = PHONE.fullmatch(raw.strip())
    return "+84" + re.sub(r"\D", "", m.group(1)) if m else None


def find(text: str) -> list[Found]:
    """All pattern entities, without overlaps (dossier codes first, then dates, phones, IDs)."""
    cleaned = clean(text)
    # Precomposed Vietnamese letters fold one to one, so spans on `plain` are spans on `cleaned`.
    plain = strip_diacritics(cleaned)
    if len(plain) != len(cleaned):
        plain = cleaned
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(entity: str, value: str | None, start: int, end: int) -> None:
        if value is None or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append(Found(entity, value, start, end))

    for m in DOSSIER_CODE.finditer(cleaned):
        add("dossier_code", f"{m.group(1).upper()}-{m.group(2)}-{m.group(3)}", m.start(), m.end())
    for m in NUMERIC_DATE.finditer(cleaned):
        add("date", _to_date(m.group(1), m.group(2), m.group(3)), m.start(), m.end())
    for m in WORDED_DATE.finditer(plain):
        add("date", _to_date(m.group(1), m.group(2), m.group(3)), m.start(), m.end())
    for m in PHONE.finditer(cleaned):
        add("phone", "+84" + re.sub(r"\D", "", m.group(1)), m.start(), m.end())
    for m in ID_NUMBER.finditer(cleaned):
        add("id_number", re.sub(r"\D", "", m.group(1)), m.start(), m.end())
    return sorted(found, key=lambda f: f.start)
