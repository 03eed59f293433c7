"""The text of the card's QR code: `ID | old 9-digit ID | full name | ddmmyyyy | sex | address | issue date`.

Strict on purpose: a misread must fail rather than fill wrong data. The 12-digit number has no checksum
(docs/domain.md 3.2), but it carries the birth-registration province, the century and sex digit and the
birth year, so it is checked against the date of birth and the sex on the same card. Names use the
Vietnamese alphabet only, dates must exist. Empty fields are reported as missing; newer cards with more
fields are read for the ones we know.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

MAX_AGE_YEARS = 120
MAX_PAYLOAD = 1000
MAX_ADDRESS = 300
# The person fields a card gives, by the suffix of the flow slots `<person>_<suffix>`.
FIELDS = ("id_number", "name", "birth_date", "sex", "address")
_DIGITS12 = re.compile(r"[0-9]{12}")
_DATE = re.compile(r"[0-9]{8}")
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_VOWELS = "aăâeêioôơuưy"
# Every letter a Vietnamese name is written with (and the Latin letters of minority names: f, j, w, z).
LETTERS = frozenset(
    {unicodedata.normalize("NFC", v + t) for v in _VOWELS + _VOWELS.upper() for t in _TONES}
    | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZđĐ")
)
_ADDRESS_MARKS = set(" ,.-/()'’#:;")


class CardError(ValueError):
    """The text is not a card's, or a field fails its check; `reason` says which (never the value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Card:
    """What one card says; `missing` names the FIELDS the card left empty."""

    id_number: str
    name: str
    birth_date: date
    sex: str | None = None  # "Nam" | "Nữ"
    address: str | None = None
    old_id: str | None = None
    issue_date: date | None = None
    missing: tuple[str, ...] = field(default=())

    def values(self) -> dict[str, str]:
        """The person fields found, as a citizen would type them (dates dd/mm/yyyy)."""
        shown = {
            "id_number": self.id_number,
            "name": self.name,
            "birth_date": self.birth_date.strftime("%d/%m/%Y"),
            "sex": self.sex,
            "address": self.address,
        }
        return {k: v for k, v in shown.items() if v}


def _date(raw: str, what: str) -> date:
    if not _DATE.fullmatch(raw):
        raise CardError(f"{what}_format")
    try:
        return date(int(raw[4:]), int(raw[2:4]), int(raw[:2]))
    except ValueError:
        raise CardError(f"{what}_impossible") from None


def _name(raw: str) -> str:
    words = raw.split()
    if not 2 <= len(words) <= 8:
        raise CardError("name_words")
    for word in words:
        core = word.replace("'", "").replace("’", "")
        if not core or any(ch not in LETTERS for ch in core) or word[0] in "'’" or word[-1] in "'’":
            raise CardError("name_letters")
    return " ".join(w.title() for w in words)  # as flows.validators writes names ("H'Hen Niê")


def _sex(raw: str) -> str | None:
    folded = raw.strip().lower()
    if not folded:
        return None
    if folded == "nam":
        return "Nam"
    if folded == "nữ":
        return "Nữ"
    raise CardError("sex_value")


def _address(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) > MAX_ADDRESS or not any(ch in LETTERS for ch in raw):
        raise CardError("address_value")
    if any(not (ch in LETTERS or ch.isdigit() or ch in _ADDRESS_MARKS) for ch in raw):
        raise CardError("address_letters")
    return raw


def check_id(id_number: str, birth: date, sex: str | None, provinces: Collection[str]) -> None:
    """PPP G YY NNNNNN: known province, century and sex digit and year agreeing with the card's own data."""
    if not _DIGITS12.fullmatch(id_number):
        raise CardError("id_format")
    if id_number[:3] not in provinces:
        raise CardError("id_province")
    g = int(id_number[3])
    if 1900 + (g // 2) * 100 != birth.year // 100 * 100 or int(id_number[4:6]) != birth.year % 100:
        raise CardError("id_birth_year")
    if sex is not None and ("Nam" if g % 2 == 0 else "Nữ") != sex:
        raise CardError("id_sex")


def parse(text: str, today: date, provinces: Collection[str]) -> Card:
    """The card in a QR payload, checked field by field; CardError when any check fails. `provinces` are the
    valid first three digits of an ID number (the flows' validator table, passed in to keep one table)."""
    if not text or len(text) > MAX_PAYLOAD or "|" not in text:
        raise CardError("not_card")
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn") for ch in text):
        raise CardError("control_characters")
    parts = [" ".join(p.split()) for p in text.split("|")]
    if len(parts) < 6 or not _DIGITS12.fullmatch(parts[0]):
        raise CardError("not_card")
    parts += [""] * (7 - len(parts))
    id_number, old_id, raw_name, raw_birth, raw_sex, raw_address, raw_issue = parts[:7]
    if old_id and not re.fullmatch(r"[0-9]{9}|[0-9]{12}", old_id):
        raise CardError("old_id_format")
    if not raw_name or not raw_birth:
        raise CardError("incomplete")
    name = _name(raw_name)
    birth = _date(raw_birth, "birth")
    if birth > today or birth.year < today.year - MAX_AGE_YEARS:
        raise CardError("birth_range")
    sex = _sex(raw_sex)
    check_id(id_number, birth, sex, provinces)
    address = _address(raw_address)
    issue = _date(raw_issue, "issue") if raw_issue else None
    if issue is not None and not birth <= issue <= today:
        raise CardError("issue_range")
    missing = tuple(k for k, v in (("sex", sex), ("address", address)) if v is None)
    return Card(id_number, name, birth, sex, address, old_id or None, issue, missing)
