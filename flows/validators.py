"""Typed values a flow collects from free chat text: check, normalise, or say exactly what is expected.

`validate(kind, raw, now=..., **rules)` never raises on bad input: a refused value comes back with a
`hint_key` naming a template in data/templates/validation.yml (with an example), and `params` to fill it.
Values are stored normalised (`value`) and shown back to the citizen as `display`. Numbers (ID numbers,
phones, dates, option numbers) are read as `bot.numbers` reads every number: ASCII digits after width
normalisation, so "０９１２…" counts and "001²…" is refused like any other typo.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import yaml

from bot.agency import local_today
from bot.config import DATA_DIR
from bot.messages import typed_number
from bot.numbers import digits, narrow
from bot.templates import text as template
from nlu.text import clean, fold, fold_word, has_diacritics

# Province codes of the birth-registration place, first 3 digits of a 12-digit personal ID number
# (Thông tư 07/2016/TT-BCA, Phụ lục). The 2025 province mergers did not renumber existing IDs, so the
# 63-province table stays the reference.
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

# Mobile prefixes after the leading 0 (docs/domain.md 3.3): Viettel 032-039, 086, 096-098; Vinaphone
# 081-085, 088, 091, 094; MobiFone 070, 076-079, 089, 090, 093; Vietnamobile 052, 056, 058, 092;
# Gmobile 059, 099; Itel 087. Portability makes the carrier irrelevant; only the prefix set matters.
_MOBILE = re.compile(r"^(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-46-9])[0-9]{7}$")
_LANDLINE = re.compile(r"^2[0-9]{9}$")  # 02x area codes since 2017: 0 + 10 digits
_PHONE_JUNK = re.compile(r"[\s.\-()/]")
_NONE_ANSWERS = {"khong co", "chua co", "khong", "khong ap dung", "ko co", "k co"}

# [0-9], not \d: \d also matches the digits of other scripts ("٣"), which are refused.
_NUMERIC_DATE = re.compile(r"^([0-9]{1,2})\s*[/\-.]\s*([0-9]{1,2})\s*[/\-.]\s*([0-9]{2}|[0-9]{4})$")
_WORDED_DATE = re.compile(
    r"^(?:ngay\s+)?([0-9]{1,2})\s+(?:thang|thg|th)\s*([0-9]{1,2})\s+(?:(?:nam|n)\s+)?([0-9]{4})$"
)
_RELATIVE_DAYS = {"hom nay": 0, "bua nay": 0, "hom qua": -1, "hom kia": -2, "ngay mai": 1, "mai": 1}
_ADDRESS_MAX = 300
MAX_AGE_YEARS = 120  # an ID whose birth year is further back is a typo


@dataclass(frozen=True)
class Validated:
    """Outcome of one check: the normalised value, or a hint key (and its parameters) to re-ask with."""

    ok: bool
    value: str | None = None
    display: str | None = None
    hint_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def hint(self) -> str:
        """The citizen-facing re-ask text for a refused value ("" when the value was accepted)."""
        return template(self.hint_key, **self.params) if self.hint_key else ""


def _ok(value: str, display: str | None = None) -> Validated:
    return Validated(ok=True, value=value, display=display if display is not None else value)


def _no(hint_key: str, **params: Any) -> Validated:
    return Validated(ok=False, hint_key=f"validation.{hint_key}", params=params)


def _squash(raw: str) -> str:
    """NFC, control characters removed, runs of whitespace reduced to one space."""
    return " ".join(clean(raw).split())


def _is_none_answer(raw: str) -> bool:
    return fold(raw) in _NONE_ANSWERS


def validate_text(
    raw: str, *, now: datetime, min_length: int = 1, max_length: int = 500, **_: Any
) -> Validated:
    value = _squash(raw)
    if len(value) < min_length:
        return _no("text_too_short", min=min_length)
    if len(value) > max_length:
        return _no("text_too_long", max=max_length)
    return _ok(value)


def _title(word: str) -> str:
    # str.title() also capitalises after an apostrophe, as in Ê Đê names (H'Hen Niê).
    return word.title()


def validate_person_name(
    raw: str, *, now: datetime, min_words: int = 2, max_words: int = 6, **_: Any
) -> Validated:
    value = _squash(raw)
    if any(ch.isdigit() for ch in value):
        return _no("person_name_digits")
    parts = value.split(" ") if value else []
    if not parts or any(not _is_name_word(p) for p in parts):
        return _no("person_name")
    if not min_words <= len(parts) <= max_words:
        return _no("person_name_words", min=min_words, max=max_words)
    name = unicodedata.normalize("NFC", " ".join(_title(p) for p in parts))
    return _ok(name)


def _is_name_word(word: str) -> bool:
    """Letters only (any script, so every Vietnamese letter), with an inner apostrophe allowed."""
    core = word.replace("'", "").replace("’", "")
    if not core or word[0] in "'’" or word[-1] in "'’":
        return False
    return all(unicodedata.category(ch).startswith("L") or unicodedata.category(ch) == "Mn" for ch in core)


def validate_id_number(raw: str, *, now: datetime, allow_none: bool = False, **_: Any) -> Validated:
    if allow_none and _is_none_answer(raw):
        return _ok("", template("validation.none_display"))
    compact = digits(re.sub(r"[\s.\-]", "", narrow(clean(raw))))
    if compact is None:
        return _no("id_number")
    if len(compact) == 9:
        return _no("id_number_old")
    if len(compact) != 12:
        return _no("id_number", length=len(compact))
    if compact[:3] not in PROVINCE_CODES:
        return _no("id_number_province")
    century = 1900 + (int(compact[3]) // 2) * 100
    birth_year = century + int(compact[4:6])
    this_year = local_today(now).year
    if not this_year - MAX_AGE_YEARS <= birth_year <= this_year:
        return _no("id_number_birth")
    return _ok(compact)


def validate_phone(raw: str, *, now: datetime, landline: bool = False, **_: Any) -> Validated:
    compact = _PHONE_JUNK.sub("", narrow(clean(raw)))
    if compact.startswith("+"):
        compact = compact[1:]
        if not compact.startswith("84"):
            return _no("phone_foreign")
        national = compact[2:]
    elif compact.startswith("0084"):
        national = compact[4:]
    elif compact.startswith("84") and len(compact) in (11, 12):
        national = compact[2:]
    elif compact.startswith("0"):
        national = compact[1:]
    else:
        return _no("phone")
    if len(national) == 10 and national.startswith("0"):
        national = national[1:]  # "+84 (0) 912 ..." keeps the trunk 0 by habit
    if digits(national) is None:
        return _no("phone")
    if _MOBILE.match(national) or (landline and _LANDLINE.match(national)):
        local = "0" + national
        shown = f"{local[:4]} {local[4:7]} {local[7:]}" if len(local) == 10 else f"{local[:3]} {local[3:]}"
        return _ok("+84" + national, shown)
    if national.startswith("2") and not landline:
        return _no("phone_landline")
    return _no("phone")


def _two_digit_year(yy: int, today: date, when: str) -> int:
    """'85' is 1985 for a birth date, '27' is 2027 for an appointment."""
    year = 2000 + yy
    if when == "future":
        return year
    return year if year <= today.year else year - 100


def parse_date(raw: str, *, today: date, when: str = "any") -> date | str | None:
    """A date from chat text; None when the form is not a date, "impossible" for 31/02 and the like."""
    raw = narrow(raw)
    folded = fold(raw)
    compact = folded.replace(",", " ")
    compact = " ".join(compact.split()).removeprefix("ngay ")
    if compact in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[compact])
    squashed = " ".join(clean(raw).split()).removeprefix("ngày ").removeprefix("Ngày ")
    m = _NUMERIC_DATE.match(squashed) or _NUMERIC_DATE.match(compact)
    if m is None:
        m = _WORDED_DATE.match(compact)
    if m is None:
        return None
    day, month, year_text = int(m.group(1)), int(m.group(2)), m.group(3)
    year = int(year_text) if len(year_text) == 4 else _two_digit_year(int(year_text), today, when)
    try:
        return date(year, month, day)
    except ValueError:
        return "impossible"


def validate_date(raw: str, *, now: datetime, when: str = "any", min_year: int = 1900, **_: Any) -> Validated:
    today = local_today(now)
    parsed = parse_date(raw, today=today, when=when)
    if parsed is None:
        return _no("date", example=today.strftime("%d/%m/%Y"))
    if parsed == "impossible":
        return _no("date_impossible")
    assert isinstance(parsed, date)
    if parsed.year < min_year:
        return _no("date_too_old", year=min_year)
    if when == "past" and parsed > today:
        return _no("date_past", today=today.strftime("%d/%m/%Y"))
    if when == "future" and parsed < today:
        return _no("date_future", today=today.strftime("%d/%m/%Y"))
    return _ok(parsed.isoformat(), parsed.strftime("%d/%m/%Y"))


def _option(item: Any) -> tuple[str, str]:
    """(title, value) of an option given as a title, a Button, a mapping or a (title, payload) pair."""
    if isinstance(item, str):
        return item, item
    if isinstance(item, Mapping):
        title = str(item.get("title") or item.get("payload") or "")
        return title, str(item.get("payload") or title)
    if isinstance(item, Sequence) and len(item) == 2:
        return str(item[0]), str(item[1])
    title = str(getattr(item, "title", item))
    return title, str(getattr(item, "payload", None) or title)


# Short answers to a yes/no-shaped choice ("… chưa ạ?", "… có … không ạ?") -> the first word of the one
# option they mean (option titles are our own, accented text): "rồi" -> "Đã …", "có ạ" -> "Có …".
SHORT_ANSWERS: dict[str, str] = {
    **dict.fromkeys(("roi", "roi a", "da roi", "da roi a", "co roi", "roi nhe", "xong roi"), "đã"),
    **dict.fromkeys(("chua", "chua a", "chua co", "van chua", "chua nhe"), "chưa"),
    **dict.fromkeys(("co", "co a", "da co", "co nhe", "vang co", "co chau"), "có"),
    **dict.fromkeys(("khong", "khong a", "khong co", "khong co a", "da khong"), "không"),
}


def validate_choice(raw: str, *, now: datetime, options: Sequence[Any] = (), **_: Any) -> Validated:
    choices = [_option(o) for o in options]
    titles = ", ".join(t for t, _ in choices)
    if not choices:
        return _no("choice", options=titles)
    answer = narrow(_squash(raw))
    folded = fold(answer)
    for title, value in choices:
        if answer == value or folded in (fold(value), fold(title)):
            return _ok(value, title)
    number = typed_number(folded)  # "2", "số 2": the second option of the numbered list
    if number is not None and 1 <= number <= len(choices):
        title, value = choices[number - 1]
        return _ok(value, title)
    # "đồng ý ạ" / "chọn nam": exactly one title appears as whole words in the answer, or the other way.
    padded = f" {folded} "
    hits = [c for c in choices if fold(c[0]) and f" {fold(c[0])} " in padded]
    if not hits and len(folded) >= 2:  # "nu" for "Bên nữ": a whole word of exactly one option
        hits = [c for c in choices if f" {folded} " in f" {fold(c[0])} "]
    # "không đồng ý" also contains "đồng ý": keep only the longest of nested titles.
    hits = [c for c in hits if not any(fold(c[0]) != fold(o[0]) and fold(c[0]) in fold(o[0]) for o in hits)]
    if len(hits) == 1:
        title, value = hits[0]
        return _ok(value, title)
    # "rồi", "chưa ạ", "có", "không" to a yes/no-shaped question: the one option that starts with that word.
    word = SHORT_ANSWERS.get(folded.rstrip(".!"))
    meant = [c for c in choices if word and c[0].lower().split(" ", 1)[0] == word]
    if len(meant) == 1:
        title, value = meant[0]
        return _ok(value, title)
    return _no("choice", options=titles)


def validate_address(raw: str, *, now: datetime, min_length: int = 10, **_: Any) -> Validated:
    value = _squash(raw)
    if not any(ch.isalpha() for ch in value):
        return _no("address")
    if len(value) < min_length or len(value.split(" ")) < 2:
        return _no("address_short")
    if len(value) > _ADDRESS_MAX:
        return _no("text_too_long", max=_ADDRESS_MAX)
    return _ok(value)


# ------------------------------------------------------------------------------ ethnicity, nationality

ETHNIC_GROUPS_FILE = DATA_DIR / "ethnic_groups.yml"
# Words around the answer itself: "dân tộc Kinh ạ", "quốc tịch là Việt Nam nhé", "người Tày".
_LEADING = ("dan toc", "quoc tich", "nuoc", "nguoi", "la", "thuoc")
_TRAILING = ("a", "nhe", "nha")
_ETHNICITY_OTHER = {"khac", "dan toc khac", "nuoc ngoai", "nguoi nuoc ngoai", "khong co", "khong ro"}
_VIET_NAM = {"vietnam", "vn", "viet", "nuocvietnam", "chxhcnvietnam", "conghoaxahoichunghiavietnam"}
_STATELESS = {"khong quoc tich", "khong co quoc tich"}
_NOT_A_COUNTRY = {"nuoc ngoai", "khac", "nuoc khac", "quoc te", "khong ro", "khong biet"}
# Words of a place or an address, never of a country's name ("Trạm Y tế xã ..., thành phố ..."); not
# "bản" or "tổ", which are also in country names (Nhật Bản).
_PLACE_WORDS = ("xã", "phường", "thị trấn", "thị xã", "tỉnh", "thành phố", "huyện", "quận", "đường", "phố",
                "số", "thôn", "ấp", "ngõ", "hẻm", "trạm", "bệnh viện", "y tế", "tp", "tx")
_NATIONALITY_LENGTH = (2, 40)


def _compact(text: str) -> str:
    """The matching key of a name: lower case, no diacritics, only letters and digits ("Ê-đê" -> "ede")."""
    return "".join(ch for ch in fold_word(text) if ch.isalnum())


def _readings(raw: str) -> list[list[str]]:
    """The answer's words, then again after each word around it is dropped: "Dân tộc: Kinh ạ." reads as
    [Dân, tộc, Kinh, ạ], [Kinh, ạ], [Kinh]. Punctuation other than ' and - goes, as does "(...)"."""
    words = re.sub(r"[^\w\s'’\-]", " ", _squash(raw).split("(")[0]).split()
    readings = [words]
    while len(words) > 1:
        folded = [fold_word(w) for w in words]
        lead = next((p.split() for p in _LEADING if folded[: len(p.split())] == p.split()), None)
        if lead and len(words) > len(lead):
            words = words[len(lead):]
        elif folded[-1] in _TRAILING:
            words = words[:-1]
        else:
            break
        readings.append(words)
    return readings


@dataclass(frozen=True)
class EthnicGroup:
    code: str
    name: str


@cache
def ethnic_groups(path: str | None = None) -> dict[str, EthnicGroup]:
    """Every accepted spelling's key -> its group, from data/ethnic_groups.yml (the 54 of Quyết định
    121-TCTK/PPCĐ). A spelling that would name two groups is a data error."""
    with open(path or ETHNIC_GROUPS_FILE, encoding="utf-8") as source:
        raw = yaml.safe_load(source) or {}
    table: dict[str, EthnicGroup] = {}
    for item in raw.get("groups") or ():
        group = EthnicGroup(str(item["code"]), str(item["name"]))
        for spelling in (group.name, *(str(a) for a in item.get("also") or ())):
            key = _compact(spelling)
            if table.get(key, group) != group:
                raise ValueError(f"ethnic_groups.yml: {spelling!r} names {table[key].name} and {group.name}")
            table[key] = group
    return table


def validate_ethnicity(raw: str, *, now: datetime, **_: Any) -> Validated:
    table = ethnic_groups()
    readings = _readings(raw)
    for words in readings:
        group = table.get(_compact(" ".join(words)))
        if group is not None:
            return _ok(group.name)
    folded = [fold_word(" ".join(words)) for words in readings]
    if any(f in _ETHNICITY_OTHER for f in folded):
        return _no("ethnicity_other")
    if _compact(folded[-1]) in _VIET_NAM - {"viet"}:
        return _no("ethnicity_is_nationality")
    return _no("ethnicity")


def _has_place_word(text: str) -> bool:
    accented = has_diacritics(text)
    words = " ".join(re.findall(r"\w+", text.lower() if accented else fold_word(text)))
    return any(f" {w if accented else fold_word(w)} " in f" {words} " for w in _PLACE_WORDS)


def _is_country_char(ch: str) -> bool:
    """Letters (any script), spaces, the joiners of names (Guinea-Bissau, Côte d'Ivoire) and the
    punctuation around an answer ("Quốc tịch: Việt Nam.")."""
    return ch.isalpha() or unicodedata.category(ch) == "Mn" or ch in " '’-.:!"


@cache
def _provinces() -> frozenset[str]:
    """Province names ("Hải Phòng"), which are places, never a nationality."""
    return frozenset(_compact(name) for name in PROVINCE_CODES.values())


def validate_nationality(raw: str, *, now: datetime, **_: Any) -> Validated:
    value = _squash(raw)
    readings = _readings(value)
    words = readings[-1]
    folded = [fold_word(" ".join(w)) for w in readings]
    core = folded[-1]
    if _compact(core) in _VIET_NAM:
        return _ok("Việt Nam")
    if any(f in _STATELESS for f in folded):
        return _ok("Không quốc tịch")
    if "," in value or _has_place_word(value) or _compact(core) in _provinces():
        return _no("nationality_place")
    if not all(_is_country_char(ch) for ch in value) or any(f in _NOT_A_COUNTRY for f in folded):
        return _no("nationality")
    group = ethnic_groups().get(_compact(core))
    if group is not None and group.name != "Lào":  # Lào is a people of Vietnam and a country
        return _no("nationality_is_ethnicity", name=group.name)
    name = " ".join(words)
    if not words or not all(_is_name_word(w.replace("-", "")) for w in words):
        return _no("nationality")
    if not _NATIONALITY_LENGTH[0] <= len(name) <= _NATIONALITY_LENGTH[1]:
        return _no("nationality")
    # "hàn quốc" -> "Hàn Quốc"; "CHLB Đức" keeps its capitals unless everything was typed in capitals.
    shouting = name.isupper()
    shown = " ".join(w.title() if shouting or not (len(w) > 1 and w.isupper()) else w for w in words)
    return _ok(unicodedata.normalize("NFC", shown))


VALIDATORS: dict[str, Callable[..., Validated]] = {
    "text": validate_text,
    "person_name": validate_person_name,
    "id_number": validate_id_number,
    "phone": validate_phone,
    "date": validate_date,
    "choice": validate_choice,
    "address": validate_address,
    "ethnicity": validate_ethnicity,
    "nationality": validate_nationality,
}


def validate(kind: str, raw: str, *, now: datetime, **rules: Any) -> Validated:
    """Check `raw` as a value of `kind`; unknown kinds are a programming error (KeyError)."""
    check = VALIDATORS[kind]
    if not (raw or "").strip():
        return _no("empty") if kind != "choice" else check("", now=now, **rules)
    return check(raw or "", now=now, **rules)
