"""Value validators: accepted forms normalise to one value; refused ones name a hint with an example."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.messages import Button
from bot.templates import has
from flows.loader import KINDS
from flows.validators import ETHNIC_GROUPS_FILE, PROVINCE_CODES, VALIDATORS, ethnic_groups, validate

# 29/11/2026 10:00 in Vietnam.
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def ok(kind: str, raw: str, **rules: object) -> str:
    result = validate(kind, raw, now=NOW, **rules)
    assert result.ok, (raw, result.hint_key)
    assert result.value is not None
    return result.value


def refused(kind: str, raw: str, **rules: object) -> str:
    result = validate(kind, raw, now=NOW, **rules)
    assert not result.ok, (raw, result.value)
    assert result.value is None and result.hint_key
    return result.hint_key


# ------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("nguyễn văn an", "Nguyễn Văn An"),
        ("  TRẦN   THỊ   MAI ", "Trần Thị Mai"),
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        ("đặng thị ngọc ánh", "Đặng Thị Ngọc Ánh"),
        ("H'Hen Niê", "H'Hen Niê"),
        ("Nguyen Van Binh", "Nguyen Van Binh"),
        ("Ngue\u0302\u0303n Va\u0306n An", "Nguễn Văn An"),  # NFD input comes back NFC
    ],
)
def test_person_name_accepts_and_normalises(raw: str, expected: str) -> None:
    assert ok("person_name", raw) == expected


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("Nguyễn Văn 2", "validation.person_name_digits"),
        ("an", "validation.person_name_words"),
        ("một hai ba bốn năm sáu bảy", "validation.person_name_words"),
        ("Nguyễn_Văn An", "validation.person_name"),
        ("Lê Thị @Hoa", "validation.person_name"),
        ("", "validation.empty"),
    ],
)
def test_person_name_refuses(raw: str, hint: str) -> None:
    assert refused("person_name", raw) == hint


# --------------------------------------------------------------------------------------------- ids


def test_province_table_is_the_63_provinces_of_circular_07_2016() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội" and PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    assert not {"003", "005", "007", "009", "013", "016", "018", "097"} & set(PROVINCE_CODES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("001090012345", "001090012345"),
        ("001 090 012 345", "001090012345"),
        ("079.3.05.123456", "079305123456"),  # female born 2005 in HCMC
        ("036185000001", "036185000001"),
    ],
)
def test_id_number_accepts(raw: str, expected: str) -> None:
    assert ok("id_number", raw) == expected


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("00109001234", "validation.id_number"),  # 11 digits
        ("0010900123456", "validation.id_number"),  # 13 digits
        ("123456789", "validation.id_number_old"),  # old 9-digit CMND
        ("003090012345", "validation.id_number_province"),  # 003 is not a province code
        ("097090012345", "validation.id_number_province"),
        ("001490012345", "validation.id_number_birth"),  # born 2190
        ("001299012345", "validation.id_number_birth"),  # born 2099, after today
        ("001000012345", "validation.id_number_birth"),  # born 1900: 126 years old
        ("00109001234a", "validation.id_number"),
    ],
)
def test_id_number_refuses(raw: str, hint: str) -> None:
    assert refused("id_number", raw) == hint


def test_id_number_none_only_when_the_rule_allows() -> None:
    assert refused("id_number", "không có") == "validation.id_number"
    result = validate("id_number", "Không có", now=NOW, allow_none=True)
    assert result.ok and result.value == "" and result.display == "Không có"


def test_id_number_born_this_year_is_plausible() -> None:
    assert ok("id_number", "001326000001") == "001326000001"  # female born 2026
    assert refused("id_number", "001327000001") == "validation.id_number_birth"  # 2027


# ------------------------------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    ("raw", "expected", "display"),
    [
        ("0912345678", "+84912345678", "0912 345 678"),
        ("0912 345 678", "+84912345678", "0912 345 678"),
        ("0912.345.678", "+84912345678", "0912 345 678"),
        ("0912-345-678", "+84912345678", "0912 345 678"),
        ("+84912345678", "+84912345678", "0912 345 678"),
        ("+84 912 345 678", "+84912345678", "0912 345 678"),
        ("84912345678", "+84912345678", "0912 345 678"),
        ("(+84) 0912 345 678", "+84912345678", "0912 345 678"),
        ("0328123456", "+84328123456", "0328 123 456"),
        ("0521234567", "+84521234567", "0521 234 567"),
        ("0701234567", "+84701234567", "0701 234 567"),
        ("0871234567", "+84871234567", "0871 234 567"),
        ("0991234567", "+84991234567", "0991 234 567"),
    ],
)
def test_phone_normalises_to_e164(raw: str, expected: str, display: str) -> None:
    result = validate("phone", raw, now=NOW)
    assert (result.ok, result.value, result.display) == (True, expected, display)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("091234567", "validation.phone"),  # 9 digits
        ("09123456789", "validation.phone"),  # 11 digits
        ("0312345678", "validation.phone"),  # 031 is not a mobile prefix
        ("0951234567", "validation.phone"),  # 095 unused
        ("0112345678", "validation.phone"),
        ("912345678", "validation.phone"),  # no leading 0 or 84
        ("+1 415 555 0100", "validation.phone_foreign"),
        ("02438123456", "validation.phone_landline"),
        ("số của tôi", "validation.phone"),
    ],
)
def test_phone_refuses(raw: str, hint: str) -> None:
    assert refused("phone", raw) == hint


def test_landline_only_when_allowed() -> None:
    assert ok("phone", "024 3812 3456", landline=True) == "+842438123456"
    assert ok("phone", "0912345678", landline=True) == "+84912345678"


# ------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15/10/2026", "2026-10-15"),
        ("5/3/2026", "2026-03-05"),
        ("05-03-2026", "2026-03-05"),
        ("5.3.2026", "2026-03-05"),
        ("15 - 10 - 2026", "2026-10-15"),
        ("15/10/26", "2026-10-15"),
        ("15/10/85", "1985-10-15"),
        ("15 tháng 10 năm 2026", "2026-10-15"),
        ("ngày 15 tháng 10 năm 2026", "2026-10-15"),
        ("Ngày 15 tháng 10, năm 2026", "2026-10-15"),
        ("15 thg 10 2026", "2026-10-15"),
        ("15 thang 10 nam 2026", "2026-10-15"),
        ("ngay 15 thang 10 nam 2026", "2026-10-15"),
        ("ngày 5/10/2026", "2026-10-05"),
        ("hôm nay", "2026-11-29"),
        ("hom nay", "2026-11-29"),
        ("Hôm qua", "2026-11-28"),
        ("29/02/2024", "2024-02-29"),
    ],
)
def test_date_forms(raw: str, expected: str) -> None:
    assert ok("date", raw) == expected


def test_date_display_is_dd_mm_yyyy() -> None:
    assert validate("date", "5 tháng 3 năm 2026", now=NOW).display == "05/03/2026"


def test_today_uses_vietnam_time() -> None:
    late_evening_utc = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)  # 01:30 on the 29th in Vietnam
    assert validate("date", "hôm nay", now=late_evening_utc).value == "2026-11-29"


@pytest.mark.parametrize(
    "raw",
    ["31/02/2026", "30/2/2025", "29/02/2025", "32/01/2026", "15/13/2026", "31 tháng 4 năm 2026", "0/5/2026"],
)
def test_impossible_dates(raw: str) -> None:
    assert refused("date", raw) == "validation.date_impossible"


@pytest.mark.parametrize("raw", ["mai kia", "15/10", "2026-10-15-1", "tháng sau", "15 10"])
def test_not_a_date(raw: str) -> None:
    assert refused("date", raw) == "validation.date"


def test_past_and_future_rules_allow_today() -> None:
    assert ok("date", "hôm nay", when="past") == "2026-11-29"
    assert ok("date", "hôm nay", when="future") == "2026-11-29"
    assert refused("date", "30/11/2026", when="past") == "validation.date_past"
    assert refused("date", "hôm qua", when="future") == "validation.date_future"
    assert ok("date", "28/11/2026", when="past") == "2026-11-28"
    assert ok("date", "01/12/2026", when="future") == "2026-12-01"
    assert ok("date", "15/10/30", when="future") == "2030-10-15"
    assert refused("date", "01/01/1850") == "validation.date_too_old"


# ----------------------------------------------------------------------------------------- choices


OPTIONS = ["Cha", "Mẹ", "Người khác"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mẹ", "Mẹ"),
        ("me", "Mẹ"),
        ("ME", "Mẹ"),
        ("2", "Mẹ"),
        ("số 3", "Người khác"),
        ("nguoi khac", "Người khác"),
        ("là mẹ ạ", "Mẹ"),
        ("1.", "Cha"),
    ],
)
def test_choice_by_title_folded_or_number(raw: str, expected: str) -> None:
    assert ok("choice", raw, options=OPTIONS) == expected


@pytest.mark.parametrize("raw", ["4", "0", "ông bà", "", "cha hoặc mẹ"])
def test_choice_refuses_unknown_or_ambiguous(raw: str) -> None:
    assert refused("choice", raw, options=OPTIONS) == "validation.choice"


def test_choice_payload_and_nested_titles() -> None:
    options = [Button("Đồng ý", "yes"), Button("Không đồng ý", "no")]
    assert validate("choice", "no", now=NOW, options=options).value == "no"
    result = validate("choice", "không đồng ý ạ", now=NOW, options=options)
    assert (result.value, result.display) == ("no", "Không đồng ý")
    assert ok("choice", "ok đồng ý", options=options) == "yes"
    genders = [{"title": "Nam", "payload": "male"}, {"title": "Nữ", "payload": "female"}]
    assert ok("choice", "2", options=genders) == "female"


@pytest.mark.parametrize(("raw", "expected"), [
    ("rồi", "Đã đăng ký kết hôn"), ("roi a", "Đã đăng ký kết hôn"), ("đã rồi ạ", "Đã đăng ký kết hôn"),
    ("chưa", "Chưa đăng ký kết hôn"), ("chua a", "Chưa đăng ký kết hôn")])
def test_choice_answers_a_done_or_not_yet_question(raw: str, expected: str) -> None:
    """ "Cha mẹ bé đã đăng ký kết hôn chưa ạ?" is answered "rồi" or "chưa" as often as by a button."""
    assert ok("choice", raw, options=["Đã đăng ký kết hôn", "Chưa đăng ký kết hôn"]) == expected
    assert refused("choice", "rồi", options=OPTIONS) == "validation.choice"  # no "Đã …" option to mean
    proof = ["Có Giấy chứng sinh", "Cơ sở y tế đã gửi Giấy chứng sinh điện tử",
             "Không có (sinh ngoài cơ sở y tế)"]
    assert ok("choice", "co", options=proof) == "Có Giấy chứng sinh"  # not "Cơ sở …", which folds alike
    assert ok("choice", "có ạ", options=proof) == "Có Giấy chứng sinh"
    assert ok("choice", "khong", options=proof) == "Không có (sinh ngoài cơ sở y tế)"
    sides = ["Bên nam", "Bên nữ"]
    assert ok("choice", "nu", options=sides) == "Bên nữ" and ok("choice", "nam", options=sides) == "Bên nam"


# ---------------------------------------------------------------------------------- text, address


def test_text_lengths_and_whitespace() -> None:
    assert ok("text", "  con   thứ hai  ") == "con thứ hai"
    assert refused("text", "ab", min_length=3) == "validation.text_too_short"
    assert refused("text", "x" * 11, max_length=10) == "validation.text_too_long"
    assert refused("text", "   ") == "validation.empty"


def test_address() -> None:
    assert (
        ok("address", "Số 12,  thôn Đông,\n xã Tân Lập, tỉnh Phú Thọ")
        == "Số 12, thôn Đông, xã Tân Lập, tỉnh Phú Thọ"
    )
    assert refused("address", "123 456 789 00") == "validation.address"
    assert refused("address", "Hà Nội") == "validation.address_short"
    assert refused("address", "thôn " + "a" * 400) == "validation.text_too_long"


# ------------------------------------------------------------------------------ ethnicity, nationality

TRAM_Y_TE = "Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng"  # typed at "dân tộc của bé" in a real chat


def test_the_ethnic_list_is_the_54_groups_of_decision_121_tctk() -> None:
    groups = set(ethnic_groups().values())
    assert len(groups) == 54
    assert sorted(int(g.code) for g in groups) == list(range(1, 55))
    names = {g.name for g in groups}
    assert {"Kinh", "Tày", "Mông", "Khmer", "Ê Đê", "Ba Na", "Bru Vân Kiều", "Ơ Đu", "Rơ Măm"} <= names
    assert len(names) == 54
    source = yaml.safe_load(ETHNIC_GROUPS_FILE.read_text(encoding="utf-8"))
    assert "121-TCTK/PPCĐ" in source["citation"]


def test_a_spelling_that_names_two_groups_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "groups.yml"
    path.write_text("groups:\n  - {code: '01', name: Tày, also: [Thổ]}\n  - {code: '21', name: Thổ}\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match="Thổ"):
        ethnic_groups(str(path))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kinh", "Kinh"),
        ("kinh", "Kinh"),
        ("KINH", "Kinh"),
        ("dân tộc Kinh", "Kinh"),
        ("Dân tộc: Kinh ạ.", "Kinh"),
        ("dan toc kinh", "Kinh"),
        ("Kinh (Việt)", "Kinh"),
        ("người Tày", "Tày"),
        ("tay", "Tày"),
        ("Mông", "Mông"),
        ("H'Mông", "Mông"),
        ("Hmong", "Mông"),
        ("hmông", "Mông"),
        ("Ê-đê", "Ê Đê"),
        ("e de", "Ê Đê"),
        ("Ede", "Ê Đê"),
        ("Khơ-me", "Khmer"),
        ("Khmer", "Khmer"),
        ("khome", "Khmer"),
        ("Bana", "Ba Na"),
        ("Ba-na", "Ba Na"),
        ("Gia-rai", "Gia Rai"),
        ("Bru - Vân Kiều", "Bru Vân Kiều"),
        ("bru van kieu", "Bru Vân Kiều"),
        ("Vân Kiều", "Bru Vân Kiều"),
        ("Khơ-mú", "Khơ mú"),
        ("X'tiêng", "Xtiêng"),
        ("M'nông", "Mnông"),
        ("Giẻ-Triêng", "Giẻ Triêng"),
        ("Tà Ôi", "Tà Ôi"),
        ("tà ôi ạ", "Tà Ôi"),
        ("La Chí", "La Chí"),  # begins like "là ..."
        ("là La Chí", "La Chí"),
        ("La Ha", "La Ha"),
        ("LoLo", "Lô Lô"),
        ("o du", "Ơ Đu"),
        ("Lào", "Lào"),
        ("Hoa", "Hoa"),
        ("Ngue\u0302\u0300n", None),  # NFD letters are read like NFC ones, and "Nguền" is no group
    ],
)
def test_ethnicity_reads_the_official_name(raw: str, expected: str | None) -> None:
    if expected is None:
        assert refused("ethnicity", raw) == "validation.ethnicity"
    else:
        assert ok("ethnicity", raw) == expected
        assert validate("ethnicity", raw, now=NOW).display == expected


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        (TRAM_Y_TE, "validation.ethnicity"),
        ("Bệnh viện đa khoa tỉnh", "validation.ethnicity"),
        ("Thái Lan", "validation.ethnicity"),
        ("Pháp", "validation.ethnicity"),
        ("12", "validation.ethnicity"),
        ("Việt Nam", "validation.ethnicity_is_nationality"),
        ("viet nam", "validation.ethnicity_is_nationality"),
        ("Khác", "validation.ethnicity_other"),
        ("dân tộc khác", "validation.ethnicity_other"),
        ("người nước ngoài", "validation.ethnicity_other"),
        ("", "validation.empty"),
    ],
)
def test_ethnicity_refuses(raw: str, hint: str) -> None:
    assert refused("ethnicity", raw) == hint


def test_other_ethnicities_are_sent_to_an_officer_with_examples() -> None:
    for raw in ("khác", TRAM_Y_TE):
        hint = validate("ethnicity", raw, now=NOW).hint()
        assert "gặp cán bộ" in hint and "Kinh" in hint


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Việt Nam", "Việt Nam"),
        ("việt nam", "Việt Nam"),
        ("viet nam", "Việt Nam"),
        ("vn", "Việt Nam"),
        ("VN", "Việt Nam"),
        ("Việt Nam.", "Việt Nam"),
        ("quốc tịch Việt Nam", "Việt Nam"),
        ("Quốc tịch: Việt Nam ạ", "Việt Nam"),
        ("người Việt Nam", "Việt Nam"),
        ("hàn quốc", "Hàn Quốc"),
        ("HÀN QUỐC", "Hàn Quốc"),
        ("quốc tịch Hàn Quốc", "Hàn Quốc"),
        ("nước Lào", "Lào"),
        ("Nhật Bản", "Nhật Bản"),
        ("CHLB Đức", "CHLB Đức"),
        ("guinea-bissau", "Guinea-Bissau"),
        ("Cộng hòa Dân chủ Nhân dân Lào", "Cộng Hòa Dân Chủ Nhân Dân Lào"),
        ("không quốc tịch", "Không quốc tịch"),
    ],
)
def test_nationality_reads_viet_nam_and_country_names(raw: str, expected: str) -> None:
    assert ok("nationality", raw) == expected


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        (TRAM_Y_TE, "validation.nationality_place"),
        ("tram y te xa tien lang", "validation.nationality_place"),
        ("Bệnh viện Phụ sản", "validation.nationality_place"),
        ("số 12 đường Lê Lợi", "validation.nationality_place"),
        ("thành phố Hải Phòng", "validation.nationality_place"),
        ("Hải Phòng", "validation.nationality_place"),
        ("huyện Tiên Lãng", "validation.nationality_place"),
        ("Hải Phòng, Việt Nam", "validation.nationality_place"),
        ("123", "validation.nationality"),
        ("Việt Nam 2", "validation.nationality"),
        ("nước ngoài", "validation.nationality"),
        ("khác", "validation.nationality"),
        ("a", "validation.nationality"),
        ("x" * 41, "validation.nationality"),
        ("Anh@", "validation.nationality"),
        ("Kinh", "validation.nationality_is_ethnicity"),
        ("dân tộc Thái", "validation.nationality_is_ethnicity"),
        ("", "validation.empty"),
    ],
)
def test_nationality_refuses(raw: str, hint: str) -> None:
    assert refused("nationality", raw) == hint


def test_an_ethnicity_at_the_nationality_question_is_named_in_the_hint() -> None:
    assert "Kinh là tên một dân tộc" in validate("nationality", "kinh", now=NOW).hint()


# ----------------------------------------------------------------------------------------- hints


def test_every_hint_key_has_a_template_with_an_example_or_instruction() -> None:
    samples = {
        "text": ["", "a" * 600],
        "person_name": ["1", "a", "a-b c"],
        "id_number": ["1", "123456789", "003090012345", "001490012345"],
        "phone": ["1", "+1 2", "0243812345"],
        "date": ["x", "31/02/2026", "1/1/1800"],
        "choice": ["x"],
        "address": ["1", "ab c"],
        "ethnicity": ["x", "khác", "Việt Nam"],
        "nationality": ["1", TRAM_Y_TE, "Kinh"],
    }
    seen = set()
    for kind, raws in samples.items():
        for raw in raws:
            result = (
                validate(kind, raw, now=NOW, options=OPTIONS)
                if kind == "choice"
                else validate(kind, raw, now=NOW)
            )
            assert not result.ok
            assert result.hint_key and has(result.hint_key), result.hint_key
            assert "anh/chị" in result.hint().lower() and len(result.hint()) < 400
            seen.add(result.hint_key)
    assert refused("date", "5/12/2026", when="past") == "validation.date_past"
    assert {"validation.person_name", "validation.phone", "validation.date"} <= seen
    assert set(VALIDATORS) == {
        "text", "person_name", "id_number", "phone", "date", "choice", "address", "ethnicity", "nationality"
    }
    assert set(VALIDATORS) | {"dossier_code"} == set(KINDS)
