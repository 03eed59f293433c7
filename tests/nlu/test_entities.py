"""Pattern entities: values normalised, spans on the original text, no overlaps."""

from nlu.entities import find, normalise_phone


def _by_entity(text: str) -> dict[str, str]:
    return {f.entity: f.value for f in find(text)}


def test_dossier_code_tolerates_case_and_spaces() -> None:
    text = "tra hồ sơ 000.00.12.h62 - 251105-0004 giúp em"
    (found,) = find(text)
    assert found.entity == "dossier_code"
    assert found.value == "000.00.12.H62-251105-0004"
    assert text[found.start:found.end].startswith("000.00.12.h62")


def test_phone_and_id_number() -> None:
    got = _by_entity("sđt 0912 345 678, cccd 001203004567")
    assert got == {"phone": "+84912345678", "id_number": "001203004567"}
    assert normalise_phone("+84 912.345.678") == "+84912345678"
    assert normalise_phone("0212345678") is None  # not a mobile prefix
    assert normalise_phone("091234567") is None  # too short


def test_dates_numeric_and_worded() -> None:
    assert _by_entity("sinh ngày 15 tháng 10 năm 2026 ạ") == {"date": "2026-10-15"}
    assert _by_entity("ngay 5 thang 3 2025") == {"date": "2025-03-05"}
    assert _by_entity("hẹn 01/05/26") == {"date": "2026-05-01"}
    assert _by_entity("15 tháng 10") == {"date": "--10-15"}
    assert find("31/02/2026") == []  # no such day


def test_dossier_code_digits_are_not_phone_or_id() -> None:
    assert [f.entity for f in find("hs 000.00.12.H62-251105-0004")] == ["dossier_code"]


def test_bad_input() -> None:
    assert find("") == []
    assert find("😀" * 10) == []
    assert isinstance(find("9" * 5000), list)
