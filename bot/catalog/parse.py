"""Parsers for the portal's flattened procedure pages (shared/catalog/raw/*.json).

The portal scrape lost every table-cell boundary: "Trực tuyến1Miễn phíDịch vụ bưu chính1Miễn phí"
is a three-column table of two rows. These functions cut such strings back into fields using what
is known about the portal: section titles, column headers, mode labels, duration units, fee
currencies and quantity phrases ("1 bản chính,1 bản sao"). Each parser is pure and reports what
it could not read as anomaly codes instead of guessing silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nlu.procedures import tidy_name

NO_INFO = "Không có thông tin"

# Section titles of a procedure page, in page order (the raw_text holds all of them).
_STEPS = "Trình Tự Thực Hiện"
_MODES = "Cách Thức Thực Hiện"
_DOCS = "Thành phần hồ sơ"
_LEGAL = "Căn cứ pháp lý"
_AGENCY = "Cơ quan thực hiện"
_CONDITIONS = "Yêu cầu, điều kiện thực hiện"
_RESULT = "Kết quả xử lý"

MODES_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOCS_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# Everything from here on in the result cell is the portal's "choose an agency" widget.
_RESULT_BOILERPLATE = ("Từ khóa", "Chọn cơ quan thực hiện", "Hệ thống chỉ hiển thị")

MODE_LABELS = {"Trực tuyến": "online", "Dịch vụ bưu chính": "postal", "Trực tiếp": "in_person"}
DURATION_UNITS = {
    "ngày làm việc": "working_day",
    "ngày": "day",
    "giờ làm việc": "hour",
    "giờ": "hour",
    "tháng": "month",
}
_NO_DURATION = ("Không phải trả kết quả cho người nộp thuế", NO_INFO, "Không quy định", "Không")
_CURRENCIES = ("Việt Nam Đồng", "VNĐ", "Đồng", "đồng", "USD")


def normalize_space(text: str | None) -> str:
    """One line: line breaks, tabs and runs of spaces become single spaces."""
    return " ".join((text or "").split())


def normalize_block(text: str | None) -> str:
    """Multi-line text with tidy lines: spaces collapsed inside lines, blank lines dropped."""
    lines = (" ".join(line.split()) for line in (text or "").splitlines())
    return "\n".join(line for line in lines if line)


def none_if_empty(text: str | None) -> str | None:
    cleaned = normalize_block(text)
    return None if not cleaned or cleaned == NO_INFO else cleaned


# --------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class Sections:
    """The text of each page section, cut from raw_text (the per-field scrape is unreliable)."""

    steps: str
    modes: str
    documents: str
    legal: str
    agency: str
    conditions: str
    result: str


def split_sections(raw: dict[str, Any]) -> Sections:
    """Cut raw_text at the section titles, each searched after the previous one.

    The scraper's own fields are wrong for some pages (it split at a "(Thành phần hồ sơ)" inside
    the steps), so the page text is the source; a field is used only when its title is missing.
    """
    text: str = raw.get("raw_text") or ""
    titles = [_STEPS, _MODES, _DOCS, _LEGAL, _AGENCY, _CONDITIONS, _RESULT]
    fields = ["trinh_tu_thuc_hien", "cach_thuc_thuc_hien", "thanh_phan_ho_so", "can_cu_phap_ly",
              "co_quan_thuc_hien", "yeu_cau_dieu_kien", "ket_qua_xu_ly"]
    starts: list[int] = []
    pos = 0
    for title in titles:
        found = text.find(title, pos)
        starts.append(found)
        if found >= 0:
            pos = found + len(title)
    parts: list[str] = []
    for i, (title, start) in enumerate(zip(titles, starts, strict=True)):
        if start < 0:
            parts.append(raw.get(fields[i]) or "")
            continue
        following = [s for s in starts[i + 1:] if s >= 0]
        end = following[0] if following else len(text)
        parts.append(text[start + len(title):end])
    if starts[-1] < 0:
        parts[-1] = ""  # no result section: the tail after conditions is only boilerplate
        parts[-2] = _cut_boilerplate(parts[-2])
    return Sections(*parts)


def _cut_boilerplate(text: str) -> str:
    cut = len(text)
    for marker in _RESULT_BOILERPLATE:
        i = text.find(marker)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


# --------------------------------------------------------------------------------------------
# Modes: duration and fee


@dataclass(frozen=True)
class Duration:
    value: float | int | None
    unit: str | None
    text: str
    anomalies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "text": self.text}


@dataclass(frozen=True)
class Fee:
    text: str
    amount: int | None
    anomalies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "amount": self.amount}


@dataclass(frozen=True)
class ModeRow:
    mode: str
    label: str
    duration: Duration
    fee: Fee
    description: str

    @property
    def anomalies(self) -> tuple[str, ...]:
        return self.duration.anomalies + self.fee.anomalies

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "label": self.label,
            "duration": self.duration.to_dict(),
            "fee": self.fee.to_dict(),
            "description": self.description,
        }


_NUM = r"\d+(?:[.,]\d+)?"
_UNIT_RE = "|".join(sorted((re.escape(u) for u in ("Ngày làm việc", "Ngày", "Giờ làm việc", "Giờ", "Tháng")),
                           key=len, reverse=True))
# A bare number is a duration only before a word fee; before an amount it is glued to it.
_DUR_RE = (rf"(?:{_NUM}\s*(?:{_UNIT_RE})|\d+(?=Miễn phí|{re.escape(NO_INFO)})"
           rf"|{'|'.join(re.escape(t) for t in _NO_DURATION)})?")
_CUR_RE = "|".join(re.escape(c) for c in _CURRENCIES)
_FEE_RE = rf"(?:Miễn phí|{re.escape(NO_INFO)}|\d[\d.,]*\s*(?:{_CUR_RE}))"
_MODE_RE = "|".join(re.escape(label) for label in MODE_LABELS)
# A table row starts where a mode label is directly followed by a duration cell and a fee cell;
# "Trực tuyến: nộp hồ sơ..." inside a description never matches.
_ROW = re.compile(rf"(?P<label>{_MODE_RE})\s*(?P<dur>{_DUR_RE})\s*(?P<fee>{_FEE_RE})")
# Fallback for pages whose duration cell is free text ("Hệ thống ... phản hồi tự động ...").
_LOOSE_ROW = re.compile(rf"(?P<label>{_MODE_RE})(?P<dur>(?:(?!{_MODE_RE}).){{1,300}}?)(?P<fee>{_FEE_RE})",
                        re.DOTALL)
_MONEY_OK = re.compile(r"^(?:0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)$")


def parse_modes(text: str) -> list[ModeRow]:
    """The submission-modes table: one row per (mode label, duration, fee, description)."""
    body = text.strip()
    if body.startswith(MODES_HEADER):
        body = body[len(MODES_HEADER):]
    matches = list(_ROW.finditer(body)) or list(_LOOSE_ROW.finditer(body))
    rows: list[ModeRow] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        dur_text, fee_text = m.group("dur").strip(), m.group("fee").strip()
        if not dur_text:
            dur_text, fee_text = _split_glued_number(fee_text)
        note, rest = _leading_parenthesis(body[m.end():end])
        rows.append(
            ModeRow(
                mode=MODE_LABELS[m.group("label")],
                label=m.group("label"),
                duration=parse_duration(dur_text),
                fee=parse_fee(fee_text, note),
                description=normalize_block(rest),
            )
        )
    return rows


def _split_glued_number(fee_text: str) -> tuple[str, str]:
    """'120,000 VNĐ' after a unit-less duration is '1' + '20,000 VNĐ': the shortest leading
    integer whose remainder is a well-formed amount. Without such a split it is all fee."""
    m = re.match(rf"(\d[\d.,]*)\s*({_CUR_RE})$", fee_text)
    if not m:
        return "", fee_text
    digits, currency = m.groups()
    for cut in range(1, len(digits)):
        head, tail = digits[:cut], digits[cut:]
        if head.isdigit() and _MONEY_OK.match(tail):
            return head, f"{tail} {currency}"
    return "", fee_text


def _leading_parenthesis(text: str) -> tuple[str, str]:
    """A '(...)' directly after the fee cell is the fee's note; returns (note, remaining text)."""
    if not text.startswith("("):
        return "", text
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[1:i].strip(), text[i + 1:]
    return text[1:].strip(), ""  # unbalanced: the rest is the note


def parse_duration(text: str) -> Duration:
    """'7 Ngày làm việc' -> 7 working days; a bare '3' is working days but flagged."""
    original = normalize_space(text)
    if not original or original in _NO_DURATION:
        return Duration(None, None, original, ("duration_missing",))
    m = re.fullmatch(rf"({_NUM})\s*(.*)", original)
    if not m:
        return Duration(None, None, original, ("duration_unparsed",))
    number, unit_text = m.groups()
    value: float | int = float(number.replace(",", ".")) if re.search(r"[.,]", number) else int(number)
    if not unit_text:
        return Duration(value, "working_day", original, ("duration_without_unit",))
    unit = DURATION_UNITS.get(unit_text.lower())
    if unit is None:
        return Duration(value, None, original, ("duration_unparsed",))
    return Duration(value, unit, original)


_NOTE_MONEY = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:đồng|đ\b|vnđ|VNĐ|Đồng)", re.IGNORECASE)


def parse_fee(headline: str, note: str = "") -> Fee:
    """Fee cell plus its note -> display text and the amount in đồng where it is certain.

    "Miễn phí" is 0. A portal amount below 1,000 đồng whose note states one clear larger amount
    ("20 VNĐ (20.000 vnđ /tờ khai)") is a data-entry slip: the note's amount is used, flagged.
    """
    headline = normalize_space(headline)
    note = normalize_space(note)
    text = f"{headline} ({note})" if note else headline
    if headline == "Miễn phí":
        local = "Hội đồng nhân dân" in note or "HĐND" in note
        return Fee(text, 0, ("fee_set_locally",) if local else ())
    if not headline or headline == NO_INFO:
        return Fee(text, None, ("fee_missing",))
    m = re.fullmatch(rf"(\d[\d.,]*)\s*({_CUR_RE})", headline)
    if not m:
        return Fee(text, None, ("fee_unparsed",))
    digits, currency = m.groups()
    if currency == "USD":
        return Fee(text, None, ("fee_foreign_currency",))
    amount = int(re.sub(r"[.,]", "", digits))
    if 0 < amount < 1000:
        # The note's amount is trusted only when the headline is it in thousands or hundreds.
        stated = {int(re.sub(r"[.,]", "", x)) for x in _NOTE_MONEY.findall(note)}
        scaled = {x for x in stated if x in (amount * 1000, amount * 100)}
        return Fee(text, scaled.pop() if len(scaled) == 1 else None, ("fee_amount_suspect",))
    return Fee(text, amount)


# --------------------------------------------------------------------------------------------
# Documents

# Quantities are 0-9 or 01-09; digits before that belong to the name ("Mẫu số 03" + "1 bản chính").
_QTY_ONE = r"0?\d [Bb]ản (?:chính|sao|chụp)"
_QTY = re.compile(rf"(?:{_QTY_ONE}(?:\s*,\s*{_QTY_ONE})*\s*)+")
_FORM_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|DOCX?|PDF)$")


@dataclass(frozen=True)
class Document:
    name: str
    form: str | None
    quantity: str | None
    group: str | None

    @property
    def is_note(self) -> bool:
        """Rows with quantity "0 bản chính" and no copies are remarks, not papers to bring."""
        if not self.quantity:
            return False
        return all(part.strip().startswith("0 ") for part in self.quantity.split(","))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "form": self.form, "quantity": self.quantity, "group": self.group}


def parse_documents(text: str) -> list[Document]:
    """The documents table: groups ("* Giấy tờ phải nộp:") of name + form file + quantity."""
    segments = text.split(DOCS_HEADER)
    docs: list[Document] = []
    group = _group_heading(segments[0]) if len(segments) > 1 else None
    for index, segment in enumerate(segments[1:] if len(segments) > 1 else segments, start=1):
        last = index == max(len(segments) - 1, 1)
        pos = 0
        for m in _quantities(segment):
            docs.extend(_document(segment[pos:m.start()], _quantity(m.group(0)), group))
            pos = m.end()
        tail = segment[pos:]
        if last:
            docs.extend(_document(tail, None, group))
        else:
            group = _group_heading(tail)
    return docs


def _quantities(segment: str) -> list[re.Match[str]]:
    """Quantity cells, not quantity phrases inside a name ('nộp 01 bản chính tờ khai ...')."""
    out = []
    for m in _QTY.finditer(segment):
        after = segment[m.end():m.end() + 3]
        # Glued lower case is the next name only as a list marker: "b) Hóa đơn", "g.2) Giấy ...".
        inline = (after[:1] == " " and after[1:2].islower()) or (
            after[:1].islower() and not re.match(r"[^\W\d_](?:\)|\.\d)", after))
        if not inline:
            out.append(m)
    return out


def _quantity(text: str) -> str:
    """'1 bản chính,1 bản sao' -> '1 bản chính, 1 bản sao'; in a repeated run the last cell wins."""
    cells = re.findall(rf"{_QTY_ONE}(?:\s*,\s*{_QTY_ONE})*", text)
    parts = re.findall(_QTY_ONE, cells[-1])
    return ", ".join(p[0] + p[1:].replace("Bản", "bản") for p in parts)


def _group_heading(text: str) -> str | None:
    heading = normalize_space(text).strip(" *-–:\t")
    heading = re.sub(r"^\*\s*", "", heading).rstrip(":").strip()
    return heading or None


def _document(piece: str, quantity: str | None, group: str | None) -> list[Document]:
    text = normalize_space(piece)
    text = re.sub(r"^[\-+*•–;.,:\s]+", "", text).strip()
    if len(text) < 3:
        return []
    name, form = split_form(text)
    name = name.rstrip(" ;,")
    if not name:
        name, form = form or text, None
    return [Document(name=name, form=form, quantity=quantity, group=group)]


_PUNCT_GLUE = ".;:)"


def split_form(text: str) -> tuple[str, str | None]:
    """'Đơn đề nghị theo quy địnhMauon (2).docx' -> ('Đơn đề nghị theo quy định', 'Mauon (2).docx').

    The form's file name is glued to the document name. It starts at a glued boundary (lower
    then upper case, 'CP|Mẫu', '.|1') in the last word that has one, at its leftmost boundary.
    """
    ext = _FORM_EXT.search(text)
    if not ext:
        return text, None
    words = text[:ext.start()].split(" ")
    for wi in range(len(words) - 1, max(-1, len(words) - 10), -1):
        word = words[wi]
        cut = _first_glue(word)
        if cut is not None:
            name = " ".join([*words[:wi], word[:cut]]).strip()
            form = " ".join([word[cut:], *words[wi + 1:]]).strip() + ext.group(0)
            return name, form
    return text, None


def _first_glue(word: str) -> int | None:
    for i in range(1, len(word)):
        prev, cur = word[i - 1], word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        decimal = prev == "." and cur.isdigit() and i > 1 and word[i - 2].isdigit()
        if prev in _PUNCT_GLUE and cur.isalnum() and not decimal:
            return i
        if prev.islower() and cur.isupper():
            return i
        if prev.isupper() and cur.isupper() and nxt.islower():
            return i
    return None


# --------------------------------------------------------------------------------------------
# Legal basis, result, names

# Vietnamese letter classes (re has no \p{Lu}/\p{Ll}); the Latin Extended blocks mix both cases.
_LATIN = [chr(c) for c in (*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0xC0, 0x250),
                            *range(0x1E00, 0x1F00))]
_LOWER = "[" + "".join(c for c in _LATIN if c.islower()) + "]"
_UPPER = "[" + "".join(c for c in _LATIN if c.isupper()) + "]"
# A number segment: capitals and digits, but not the capital that starts the next title ("BTCNghị").
_SEG = rf"(?:TTg|(?:[A-ZĐ0-9](?!{_LOWER}))+)"
_LEGAL_NUMBER = re.compile(
    rf"(?P<num>(?>\d+(?:\.\d+)?/(?:\d{{4}}/)?{_SEG}(?:-{_SEG})*))"
    rf"(?=\s*(?:$|{_UPPER}(?:{_LOWER}| )|{_UPPER}{{2,}}[ ,]))"
)


@dataclass(frozen=True)
class LegalBasis:
    title: str
    number: str
    repaired: bool = field(default=False, compare=False)  # a cell border or number was mended at import

    @property
    def anomalies(self) -> tuple[str, ...]:
        """`legal_number_odd` when the number is not of a known shape even after cleaning."""
        whole = _WELL_FORMED.fullmatch(self.number) and not re.search(r"-[A-ZĐ]$", self.number)
        return () if whole else ("legal_number_odd",)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "number": self.number}


# A number as the portal's number cell should hold it: 68/2020/QH14, 118/2025/NĐ-CP, 2222/QĐ-BHXH.
_WELL_FORMED = re.compile(r"\d+(?:\.\d+|\.?[a-z])?(?:/\d{4})?/(?:[A-ZĐ]+-)*"
                          r"(?:[A-ZĐ]+|TTg|QH1\d|UBTVQH1\d)(?:\d{2})?")
# A year glued in front of the number: "Luật Cư trú 2020" + "68/2020/QH14" read as "202068/2020/QH14".
_GLUED_YEAR = re.compile(r"^((?:19|20)\d{2})(\d{1,4}(?:/\d{4})?/.+)$")
# Issuers that end a number; capitals after one are the next title's ("166/2016/NĐ-CP" + "LUẬT ...").
_ISSUERS = sorted(("CP", "TTg", "BTC", "BCA", "BTP", "BXD", "BNNMT", "BNNPTNT", "BHXH", "BYT", "BCT",
                   "BLĐTBXH", "BKHĐT", "BTNMT", "BGTVT", "NHNN", "BQP", "VPCP", "UBND", "HĐND", "BNV",
                   "BVHTTDL", "BTTTT", "BGDĐT", "BNG", "VPQH", "CSXH", "BKHCN", "CTN", "TANDTC", "VKSNDTC",
                   *(f"QH1{d}" for d in range(10)), *(f"UBTVQH1{d}" for d in range(10))),
                  key=len, reverse=True)
# What is left of a title when an inline number was taken for the number cell ("Thông tư số").
_TITLE_STUB = re.compile(
    r"^(?:(?:luật|nghị định|nghị quyết|thông tư|thông tư liên tịch|quyết định|văn bản) )?số$", re.IGNORECASE)


def parse_legal_basis(text: str) -> list[LegalBasis]:
    """'Tên văn bản pháp lýMã văn bản' then 'title' + 'number' glued, repeated.

    The flattened table loses cell borders, so some cuts land inside a title that quotes its own number
    ("Thông tư số 53/2025/TT-BCAngày 01/7/2025 ..."): a cut that leaves only "Thông tư số" is undone by
    joining the text back to the next cut. A year that ends a title and is glued to the number
    ("Luật Cư trú 2020" + "68/2020/QH14") goes back to the title; so do the capitals of a next title
    glued after an issuer ("NĐ-CP" + "LUẬT").
    """
    body = normalize_space(text)
    if body.startswith(LEGAL_HEADER):
        body = body[len(LEGAL_HEADER):]
    # "NĐ-CPsửa đổi ...": a next title in lower case glued to an issuer; its capital makes the border clear.
    body = _LOWER_AFTER_ISSUER.sub(lambda m: m.group(1) + m.group(2).upper(), body)
    pieces: list[tuple[str, bool]] = []
    pending = ""
    pos = 0
    for m in _LEGAL_NUMBER.finditer(body):
        piece = pending + body[pos:m.end()]
        pos = m.end()
        title, _ = _unglue_number(piece)
        if _TITLE_STUB.match(title.strip()):
            pending = piece  # a title quoting its own number: not a cell border
            continue
        pieces.append((piece, bool(pending)))
        pending = ""
    if pending and pieces:
        pieces[-1] = (pieces[-1][0] + pending, True)
    out: list[LegalBasis] = []
    seen: set[tuple[str, str]] = set()
    carry = ""
    for piece, merged in pieces:
        repaired = merged or bool(carry)
        title, number = _unglue_number(carry + piece)
        number, carry = _split_issuer(number)
        year = _GLUED_YEAR.match(number)
        if year and len(number.split("/")[0]) >= 5:  # no real number cell starts with a year and 5+ digits
            title, number = f"{title} {year.group(1)}".strip(), year.group(2)
        mended = re.sub(r"N[DĐ]-CP?$", "NĐ-CP", number)  # "ND-CP" typos and the portal's cut "NĐ-C"
        spaced = _space_after_numbers(title)
        repaired = repaired or bool(carry) or bool(year and number == year.group(2)) or mended != number \
            or spaced != title
        title, number = spaced[:1].upper() + spaced[1:], mended
        if not title:
            continue
        key = (title, number)
        if key not in seen:
            seen.add(key)
            out.append(LegalBasis(title=title, number=number, repaired=repaired))
    return out


_LOWER_AFTER_ISSUER = re.compile(rf"(\d/(?:\d{{4}}/)?(?:[A-ZĐ]+-)*(?:{'|'.join(_ISSUERS)}))({_LOWER})")


def _split_issuer(number: str) -> tuple[str, str]:
    """'166/2016/NĐ-CPLU' -> ('166/2016/NĐ-CP', 'LU'): capitals after a known issuer start the next title."""
    head, sep, last = max(number.rpartition("-"), number.rpartition("/"), key=lambda p: len(p[0]))
    for issuer in _ISSUERS:
        rest = last[len(issuer):]
        if last.startswith(issuer) and rest and rest.isupper() and rest.isalpha():
            return head + sep + issuer, rest
    return number, ""


def _space_after_numbers(title: str) -> str:
    """'Thông tư số 53/2025/TT-BCAngày 01/7/2025' -> '... 53/2025/TT-BCA ngày 01/7/2025'."""
    return re.sub(r"(\d+/\d{4}/[A-ZĐ]+(?:-[A-ZĐ]+)*?(?:TTg)?)([Nn]gày|[Cc]ủa|[Vv]ề|[Qq]uy|[Ss]ửa|[Hh]ướng)",
                  lambda m: f"{m.group(1)} {m.group(2).lower()}", title)


def _unglue_number(entry: str) -> tuple[str, str]:
    """'Luật 60/2014/QH1360/2014/QH13' -> ('Luật 60/2014/QH13', '60/2014/QH13'): a title ending in
    its own number runs into the number cell, so the longest doubled tail is the number."""
    for size in range(min(40, len(entry) // 2), 4, -1):
        tail = entry[-size:]
        if tail[0].isdigit() and entry[-2 * size:-size] == tail:
            return entry[:-size].strip(" ,;"), tail
    m = _LEGAL_NUMBER.search(entry)
    number = m.group("num") if m else ""
    while m and m.end() < len(entry):
        m = _LEGAL_NUMBER.search(entry, m.end())
        number = m.group("num") if m else number
    return entry[: len(entry) - len(number)].strip(" ,;"), number


def parse_result(text: str) -> str:
    """Result documents without the portal's agency-picker boilerplate; codes dropped."""
    body = _cut_boilerplate(text)
    names = [normalize_space(p) for p in re.split(r"Mã:\s*KQ[.\-][A-Z]\d+\.\d+", body)]
    names = [n for n in names if n and n != NO_INFO]
    return "; ".join(dict.fromkeys(names))


def official_name(raw: dict[str, Any]) -> str:
    return normalize_space(raw.get("ten_thu_tuc"))


def short_name(name: str, limit: int = 90) -> str:
    """A display name: no leading 'Thủ tục', sentence case, long qualifiers trimmed."""
    text = tidy_name(name)
    if text.isupper():
        text = text.lower()
    if len(text) > limit:
        text = normalize_space(re.sub(r"\s*\([^()]*\)", "", text))
    if len(text) > limit and ";" in text:
        text = text.split(";", 1)[0].strip(" ,")
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        kept = text[: cut if cut > 0 else limit].rstrip(" ,;:-").split(" ")
        while len(kept) > 3 and _word_key(kept[-1]) in _LINK_WORDS:  # "… miễn thuế và…" tells nothing apart
            kept = kept[:-1]
        text = " ".join(kept).rstrip(" ,;:-") + "…"
    return text[:1].upper() + text[1:]



# Display names of procedures whose short names collide: keep what tells them apart.
DISTINCT_LIMIT = 130  # a colliding name up to this length is shown whole
_HEAD_CHARS = 60
_WINDOW_CHARS = 75
_BACK_WORDS = 6
# Words that open a qualifying phrase ("... nơi người nộp thuế chuyển đến", "... chưa tham gia ...").
_PHRASE_STARTS = frozenset((
    "nơi", "tại", "đối", "cho", "chưa", "trong", "từ", "của", "khi", "mà", "thuộc", "do", "và", "hoặc", "trừ",
))


# Linking words a cut name never ends on (not "trừ": "khấu trừ"; not "đến": "chuyển đến").
_LINK_WORDS = frozenset(("và", "với", "tại", "của", "cho", "đối", "hoặc", "trong", "từ", "khi", "mà", "do",
                         "theo", "là", "các", "những", "giữa", "thuộc", "nơi"))


def _word_key(word: str) -> str:
    return word.strip(".,;:()\"'").lower()


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if _word_key(x) != _word_key(y):
            break
        n += 1
    return n


def _ends_clause(word: str) -> bool:
    return word[-1:] in ",;:)"


def _head(words: list[str]) -> int:
    """How many opening words make the head: the longest run within _HEAD_CHARS that ends at a
    comma or before a phrase-opening word, else what fits."""
    best, length = 0, -1
    for k, w in enumerate(words[:-1]):
        length += len(w) + 1
        if length > _HEAD_CHARS:
            break
        if _ends_clause(w) or words[k + 1].lower() in _PHRASE_STARTS:
            best = k + 1
    if best:
        return best
    fitted, _ = _clip_words(words, _HEAD_CHARS)
    return len(fitted)


def _phrase_start(words: list[str], split: int, floor: int) -> int:
    """Where the phrase holding the first distinguishing word begins (at most _BACK_WORDS back)."""
    if words[split].lower() in _PHRASE_STARTS or (split > 0 and _ends_clause(words[split - 1])):
        return split
    for k in range(split - 1, max(floor, split - _BACK_WORDS) - 1, -1):
        if words[k].lower() in _PHRASE_STARTS or (k > 0 and _ends_clause(words[k - 1])):
            return k
    return max(floor, split - 2)


def _clip_words(words: list[str], limit: int) -> tuple[list[str], bool]:
    """The leading words that fit in `limit` characters (at least one), and whether any were cut."""
    out: list[str] = []
    for w in words:
        if out and len(" ".join([*out, w])) > limit:
            return out, True
        out.append(w)
    return out, False


def _window(words: list[str], limit: int) -> str:
    """The words within `limit`; when some must go, cut at the last ';' or ')' that keeps at least
    three words, and mark the cut with '…'."""
    fitted, cut = _clip_words(words, limit)
    if cut:
        ends = [k for k, w in enumerate(fitted) if k >= 2 and re.search(r"[;)][,;:]?$", w)]
        if ends:
            fitted = fitted[:ends[-1] + 1]
        # A cut never ends on a linking word ("… miễn thuế và…"): it tells nothing apart, and two names
        # differing only in it ("và…" / "với…") would look distinct but match alike.
        while len(fitted) > 3 and _word_key(fitted[-1]) in _LINK_WORDS:
            fitted = fitted[:-1]
    return " ".join(fitted).rstrip(" ,;:-") + ("…" if cut else "")


def _balance(text: str) -> str:
    """Drop parentheses left unpaired by cutting a name into pieces."""
    if text.count("(") != text.count(")"):
        text = text.replace("(", "").replace(")", "")
    return normalize_space(text)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def distinct_short_names(names: list[str]) -> list[str]:
    """Display names for procedures whose `short_name`s collide, in input order.

    A name that is short enough is kept whole (qualifiers in parentheses included). A long one
    becomes its opening words, "…", then the phrase where it departs from its closest sibling, up
    to the words it shares with a sibling at the end: 'Đăng ký thay đổi thông tin đăng ký thuế …
    nơi người nộp thuế chuyển đến'. Names equal once tidied come back equal; the caller decides.
    """
    tidy = [tidy_name(n) for n in names]
    words = [t.split(" ") for t in tidy]
    out: list[str] = []
    for i, text in enumerate(tidy):
        siblings = [words[j] for j in range(len(tidy)) if tidy[j] != text]
        if len(text) <= DISTINCT_LIMIT or not siblings:
            out.append(_capital(text))
            continue
        own = words[i]
        split = max(_common_prefix(own, other) for other in siblings)
        suffix = max(_common_prefix(own[::-1], other[::-1]) for other in siblings)
        head = _head(own)
        if split >= len(own):
            out.append(_capital(text))
            continue
        start = max(head, _phrase_start(own, split, head))
        end = max(len(own) - suffix, split + 1)
        head_text = " ".join(own[:head]).rstrip(" ,;:-")
        joiner = " " if start == head else " … "
        tail = _window(own[start:end], _WINDOW_CHARS)
        out.append(_balance(_capital(head_text) + joiner + tail.lstrip(" ,;:")))
    return out
