"""Cross-field checks declared in flow files: read by the loader (errors an officer can act on) and
evaluated by flows.checks on the agency's local date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flows.checks import failing, full_years
from flows.loader import FlowError, parse_flow

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def flow(checks: list[dict[str, Any]]) -> Any:
    return parse_flow({
        "flow": "thu", "title": "Thử", "procedure": "1.000894", "checks": checks,
        "steps": [
            "consent",
            {"collect": "purpose", "type": "choice", "label": "P", "ask": "?",
             "options": ["Kết hôn", "Khác"]},
            {"collect": "status", "type": "choice", "label": "S", "ask": "?",
             "options": ["Độc thân", "Có vợ/chồng"]},
            {"collect": "a_birth_date", "type": "date", "label": "A", "ask": "?"},
            {"collect": "b_date", "type": "date", "label": "B", "ask": "?"},
            {"collect": "note", "label": "N", "ask": "?"},
            "confirm", "submit",
        ],
    }, "thu.yml")


def test_ages_dates_and_exclusions() -> None:
    f = flow([
        {"id": "tuoi", "require": "age(a_birth_date) >= 20", "say": "chưa đủ tuổi"},
        {"id": "thu_tu", "require": "b_date > a_birth_date", "say": "sai thứ tự"},
        {"id": "loai_tru", "refuse": ['purpose == "Kết hôn"', 'status == "Có vợ/chồng"'],
         "say": "không được"},
    ])
    assert failing(f, {"a_birth_date": "2006-11-24"}, NOW) is None  # 20 today
    assert failing(f, {"a_birth_date": "2006-11-25"}, NOW).id == "tuoi"  # type: ignore[union-attr]
    assert failing(f, {"a_birth_date": "1990-01-01", "b_date": "1989-12-31"}, NOW).id == "thu_tu"  # type: ignore[union-attr]
    assert failing(f, {"a_birth_date": "1990-01-01", "b_date": "1990-01-02"}, NOW) is None
    assert failing(f, {"purpose": "Kết hôn", "status": "Có vợ/chồng"}, NOW).id == "loai_tru"  # type: ignore[union-attr]
    assert failing(f, {"purpose": "Khác", "status": "Có vợ/chồng"}, NOW) is None
    assert failing(f, {"purpose": "Kết hôn"}, NOW) is None  # not all known yet
    # only the checks naming the changed slot
    assert failing(f, {"a_birth_date": "2010-01-01"}, NOW, changed="b_date") is None


def test_age_counts_completed_years() -> None:
    from datetime import date
    assert full_years(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert full_years(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize(("check", "message"), [
    ({"id": "x", "require": "age(nobody) >= 1", "say": "?"}, "'nobody' is not collected"),
    ({"id": "x", "require": "age(note) >= 1", "say": "?"}, "needs note to be of type date"),
    ({"id": "x", "require": "age(a_birth_date) >= b_date", "say": "?"},
     "compares a number of years with a date"),
    ({"id": "x", "require": "a_birth_date ~ b_date", "say": "?"}, "cannot read"),
    ({"id": "x", "require": "b_date > a_birth_date"}, "`say:` is missing"),
    ({"id": "x", "require": "b_date > a_birth_date", "refuse": ["purpose"], "say": "?"}, "either"),
    ({"id": "x", "refuse": ['purpose == "Ly hôn"'], "say": "?"}, "not one of its options"),
    ({"id": "X", "refuse": ["purpose"], "say": "?"}, "lower_case"),
])
def test_the_loader_refuses_a_bad_check(check: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowError, match=message):
        flow([check])
