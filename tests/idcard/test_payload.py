"""The card's QR text: table of real-shaped payloads and misreads, and a fuzz that nothing wrong gets in."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.idcard import CardError, parse
from flows.validators import PROVINCE_CODES

TODAY = date(2026, 12, 4)
GOOD = "001090012345|123456789|Nguyễn Văn An|01011990|Nam|Số 12, đường Lê Lợi, Hà Nội|03052021"


def read(payload: str):
    return parse(payload, TODAY, PROVINCE_CODES)


def test_a_full_card() -> None:
    card = read(GOOD)
    assert (card.id_number, card.old_id, card.name) == ("001090012345", "123456789", "Nguyễn Văn An")
    assert (card.birth_date, card.sex, card.issue_date) == (date(1990, 1, 1), "Nam", date(2021, 5, 3))
    assert card.address == "Số 12, đường Lê Lợi, Hà Nội" and card.missing == ()
    assert card.values() == {"id_number": "001090012345", "name": "Nguyễn Văn An", "birth_date": "01/01/1990",
                             "sex": "Nam", "address": "Số 12, đường Lê Lợi, Hà Nội"}


@pytest.mark.parametrize(("payload", "expected"), [
    # no old ID, woman born in 2001 (century-sex digit 3), NFD input normalised
    ("079301000123||TRẦN THỊ MAI|08032001|Nữ|Phường 1, TP HCM|01072022", ("Trần Thị Mai", "Nữ", ())),
    ("079301000123||Tra\u0302\u0300n Thi\u0323 Mai|08032001|Nu\u031b\u0303|Phường 1, TP HCM|",
     ("Trần Thị Mai", "Nữ", ())),
    # newer card: no address, extra fields after the issue date
    ("001090012345||Nguyễn Văn An|01011990|Nam||03052021|31122035|x", ("Nguyễn Văn An", "Nam", ("address",))),
    # six fields only, sex empty
    ("066185000999||H'Hen Niê|02021985||Buôn Ma Thuột", ("H'Hen Niê", None, ("sex",))),
])
def test_cards_that_read(payload: str, expected: tuple) -> None:
    card = read(payload)
    assert (card.name, card.sex, card.missing) == expected


@pytest.mark.parametrize(("payload", "reason"), [
    ("https://example.com/a|b", "not_card"),
    ("hello", "not_card"),
    ("", "not_card"),
    ("00109001234|123456789|Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "not_card"),  # 11 digits
    ("003090012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "id_province"),  # 003 is no province
    ("001290012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "id_birth_year"),  # century 2000
    ("001091012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "id_birth_year"),  # year 91
    ("001190012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "id_sex"),  # odd digit: a woman
    ("001090012345||Nguyễn Văn An|31021990|Nam|Hà Nội|03052021", "birth_impossible"),
    ("001090012345||Nguyễn Văn An|1011990|Nam|Hà Nội|03052021", "birth_format"),
    ("001226012345||Nguyễn Văn An|01012027|Nam|Hà Nội|03052021", "birth_range"),  # born tomorrow's year
    ("001090012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03051980", "issue_range"),  # before birth
    ("001090012345||Nguyễn Văn An|01011990|Nam|Hà Nội|03052030", "issue_range"),  # in the future
    ("001090012345||Nguyễn Văn An|01011990|Male|Hà Nội|03052021", "sex_value"),
    ("001090012345||Nguy?n V?n An|01011990|Nam|Hà Nội|03052021", "name_letters"),  # lost diacritics
    ("001090012345||NguyÃªn VÄƒn An|01011990|Nam|Hà Nội|03052021", "name_letters"),  # mojibake
    ("001090012345||Нгуен Ван|01011990|Nam|Hà Nội|03052021", "name_letters"),  # another script
    ("001090012345||An|01011990|Nam|Hà Nội|03052021", "name_words"),
    ("001090012345||Nguyễn Văn An|01011990|Nam|Hà Nội\ufffd|03052021", "address_letters"),
    ("001090012345||Nguyễn Văn An|01011990|Nam|Hà\x00 Nội|03052021", "control_characters"),
    ("001090012345|12345|Nguyễn Văn An|01011990|Nam|Hà Nội|03052021", "old_id_format"),
    ("001090012345|||01011990|Nam|Hà Nội|03052021", "incomplete"),
])
def test_misreads_and_other_codes_fail(payload: str, reason: str) -> None:
    with pytest.raises(CardError) as caught:
        read(payload)
    assert caught.value.reason == reason


def _consistent(card) -> bool:
    g = int(card.id_number[3])
    return (card.id_number[:3] in PROVINCE_CODES and 1900 + g // 2 * 100 == card.birth_date.year // 100 * 100
            and int(card.id_number[4:6]) == card.birth_date.year % 100
            and (card.sex is None or card.sex == ("Nam" if g % 2 == 0 else "Nữ"))
            and card.birth_date <= TODAY)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_any_text_is_refused_or_consistent(raw: str) -> None:
    try:
        card = read(raw)
    except CardError:
        return
    assert _consistent(card)


FIELD = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="|"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6), FIELD)
def test_fuzz_one_field_replaced_is_refused_or_consistent(index: int, value: str) -> None:
    parts = GOOD.split("|")
    parts[index] = value
    try:
        card = read("|".join(parts))
    except CardError:
        return
    assert _consistent(card)
    assert all(ch.isalpha() or ch in " '’" for ch in card.name)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.characters(codec="utf-8"))
def test_fuzz_one_character_changed_is_refused_or_consistent(position: int, char: str) -> None:
    try:
        card = read(GOOD[:position] + char + GOOD[position + 1:])
    except CardError:
        return
    assert _consistent(card)
