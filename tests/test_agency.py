"""Agency configuration and working-day arithmetic (bot/agency.py, data/agency.yml)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.agency import Agency, AgencyConfigError

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CURATED = Path(__file__).resolve().parents[1] / "data" / "catalog" / "curated"


@pytest.fixture(scope="module")
def agency() -> Agency:
    return Agency.load()


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    """A moment given in Vietnamese local time, returned as aware UTC (how the database stores it)."""
    return datetime(y, m, d, hh, mm, tzinfo=VN).astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# The shipped configuration


def test_load_is_cached_and_typed(agency: Agency) -> None:
    assert Agency.load() is agency
    assert agency.cutoff == time(15, 0)
    assert agency.timezone.key == "Asia/Ho_Chi_Minh"
    assert agency.opening_hours[0] == ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))
    assert agency.dossier_code_prefix.count(".") == 3


def test_accepted_procedures_are_the_curated_ones(agency: Agency) -> None:
    curated = {p.stem for p in CURATED.glob("*.yml")}
    # 2.000635 has no processing time in the source, so no appointment date can be promised yet.
    # Residence (cư trú) is the commune police's: taken in the chat only where the centre hosts a police desk.
    residence = {"1.004222", "1.004194", "1.002755", "1.003677", "1.010041", "1.010038"}
    assert agency.hosted_desks == frozenset()
    assert agency.accepted_procedures == curated - {"2.000635"} - residence
    assert agency.accepts("1.001193") and agency.accepts(" 1.013225 ")
    assert not agency.accepts("1.013978") and not agency.accepts("")


@pytest.mark.parametrize("year", [2026, 2027])
def test_holiday_list_covers_the_statutory_holidays(agency: Agency, year: int) -> None:
    days = set(agency.holidays)
    assert {date(year, 1, 1), date(year, 4, 30), date(year, 5, 1), date(year, 9, 2)} <= days
    hung_kings = {2026: date(2026, 4, 26), 2027: date(2027, 4, 16)}[year]
    assert hung_kings in days
    national_day = [d for d in days if d.year == year and d.month == 9]
    assert len(national_day) == 2 and all(abs((d - date(year, 9, 2)).days) == 1 or d.day == 2
                                          for d in national_day)
    tet = [d for d in days if d.year == year and d.month == 2]
    assert sum(d.weekday() < 5 for d in tet) >= 5, "five statutory Tết days off on working days"


def test_unannounced_2027_tet_is_flagged(agency: Agency) -> None:
    assert agency.holidays[date(2027, 2, 6)].confirmed is False
    assert agency.holidays[date(2026, 2, 17)].confirmed is True


# --------------------------------------------------------------------------------------------
# Working days


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 13), True),    # Friday before the Tết break
    (date(2026, 2, 16), False),   # Tết 2026 (break 14–22/02)
    (date(2026, 2, 17), False),   # mùng 1
    (date(2026, 2, 20), False),
    (date(2026, 2, 23), True),    # first working day after Tết
    (date(2026, 1, 2), False),    # bridge day swapped with Saturday 10/01
    (date(2026, 1, 10), True),    # make-up Saturday
    (date(2026, 1, 17), False),   # ordinary Saturday
    (date(2026, 1, 18), False),   # Sunday
    (date(2026, 4, 27), False),   # compensatory day for Giỗ Tổ on Sunday 26/04
    (date(2026, 4, 30), False),
    (date(2026, 5, 1), False),
    (date(2026, 5, 4), True),
    (date(2026, 9, 2), False),
    (date(2027, 2, 4), False),    # Tết 2027 (expected break 04–10/02)
    (date(2027, 2, 10), False),
    (date(2027, 2, 11), True),
    (date(2027, 5, 3), False),    # compensatory day for 1/5 on Saturday
])
def test_is_working_day(agency: Agency, day: date, working: bool) -> None:
    assert agency.is_working_day(day) is working


def test_add_working_days(agency: Agency) -> None:
    assert agency.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert agency.add_working_days(date(2026, 2, 13), 0) == date(2026, 2, 13)
    assert agency.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 23)
    assert agency.add_working_days(date(2026, 3, 6), 5) == date(2026, 3, 13)   # Fri + 5 = next Fri
    with pytest.raises(ValueError):
        agency.add_working_days(date(2026, 3, 6), -1)


# --------------------------------------------------------------------------------------------
# Appointment dates


# One cut-off rule: the reception day counts as the first day of the period when the dossier arrives
# before 15:00, else the next working day does; the cut-off and an extra day are never both applied.
@pytest.mark.parametrize(("received", "value", "unit", "due"), [
    # A 1-day civil-status dossier on an ordinary Monday: 14:59 the same day, 15:00 and 16:30 Tuesday.
    (local(2026, 3, 2, 14, 59), 1, "working_day", date(2026, 3, 2)),
    (local(2026, 3, 2, 15, 0), 1, "working_day", date(2026, 3, 3)),
    (local(2026, 3, 2, 16, 30), 1, "working_day", date(2026, 3, 3)),
    # On a Friday: after the cut-off the next working day is Monday.
    (local(2026, 3, 6, 14, 59), 1, "working_day", date(2026, 3, 6)),
    (local(2026, 3, 6, 15, 0), 1, "working_day", date(2026, 3, 9)),
    (local(2026, 3, 6, 16, 30), 1, "working_day", date(2026, 3, 9)),
    (local(2026, 3, 6, 16, 30), 3, "working_day", date(2026, 3, 11)),
    # The Friday before Tết 2026 (break 14–22/02): after the cut-off, the first day after Tết.
    (local(2026, 2, 13, 14, 59), 1, "working_day", date(2026, 2, 13)),
    (local(2026, 2, 13, 15, 0), 1, "working_day", date(2026, 2, 23)),
    (local(2026, 2, 13, 16, 30), 1, "working_day", date(2026, 2, 23)),
    (local(2026, 2, 13, 14, 59), 2, "working_day", date(2026, 2, 23)),
    (local(2026, 2, 13, 16, 30), 2, "working_day", date(2026, 2, 24)),
    # The last day before Tết 2027 (expected break 04–10/02, a Wednesday).
    (local(2027, 2, 3, 14, 59), 1, "working_day", date(2027, 2, 3)),
    (local(2027, 2, 3, 15, 0), 1, "working_day", date(2027, 2, 11)),
    (local(2027, 2, 3, 16, 30), 1, "working_day", date(2027, 2, 11)),
    (local(2027, 2, 3, 10, 0), 3, "working_day", date(2027, 2, 12)),
    # Received on a Saturday: counted from Monday.
    (local(2026, 3, 7, 9, 0), 3, "working_day", date(2026, 3, 11)),
    # Received on a Sunday evening, UTC date still Sunday.
    (local(2026, 3, 8, 20, 0), 1, "working_day", date(2026, 3, 9)),
    # An ordinary week (thường trú, 7 working days): Monday is day 1, the next Tuesday day 7.
    (local(2026, 4, 6, 10, 0), 7, "working_day", date(2026, 4, 14)),
    # Giỗ Tổ compensatory Monday and the 30/4–1/5 break.
    (local(2026, 4, 24, 16, 0), 1, "working_day", date(2026, 4, 28)),
    (local(2026, 4, 29, 16, 0), 1, "working_day", date(2026, 5, 4)),
    # After the cut-off before Quốc khánh (1–2/9/2026 off): counts from 3/9.
    (local(2026, 8, 31, 16, 0), 1, "working_day", date(2026, 9, 3)),
    # Make-up Saturday 10/01/2026 is a working day.
    (local(2026, 1, 9, 16, 0), 1, "working_day", date(2026, 1, 10)),
    # Tết Dương lịch 2026: 1/1 and the swapped 2/1 off.
    (local(2025, 12, 31, 16, 0), 1, "working_day", date(2026, 1, 5)),
    # Fractions round up; less than one day is the start day.
    (local(2026, 3, 10, 10, 0), 0.5, "working_day", date(2026, 3, 10)),
    (local(2026, 3, 10, 16, 0), 0.5, "working_day", date(2026, 3, 11)),
    (local(2026, 3, 10, 10, 0), 1.5, "working_day", date(2026, 3, 11)),
    (local(2026, 3, 10, 10, 0), 0, "working_day", date(2026, 3, 10)),
    # Hours: up to a working day is the start day; longer becomes working days.
    (local(2026, 3, 10, 10, 0), 4, "hour", date(2026, 3, 10)),
    (local(2026, 3, 10, 16, 0), 4, "hour", date(2026, 3, 11)),
    (local(2026, 3, 10, 10, 0), 16, "hour", date(2026, 3, 11)),
    # Calendar days (GPXD: 15 "Ngày"), day 1 the start day; a due date on Saturday moves to Monday.
    (local(2026, 3, 2, 10, 0), 20, "day", date(2026, 3, 23)),
    (local(2026, 3, 2, 10, 0), 15, "day", date(2026, 3, 16)),
    # Calendar months, clamped to the end of a short month, then to a working day.
    (local(2026, 1, 30, 10, 0), 1, "month", date(2026, 3, 2)),
])
def test_appointment_date(agency: Agency, received: datetime, value: float, unit: str, due: date) -> None:
    assert agency.appointment_date(received, value, unit) == due


def test_the_cutoff_and_an_extra_day_are_never_both_applied(agency: Agency) -> None:
    """Whatever the hour, a 1-day dossier is due within one working day after the day it arrives."""
    for hour, minute in ((7, 30), (14, 59), (15, 0), (16, 30), (23, 59)):
        received = local(2026, 3, 2, hour, minute)
        due = agency.appointment_date(received, 1, "working_day")
        assert due <= agency.next_working_day(date(2026, 3, 2))


# --------------------------------------------------------------------------------------------
# How far the holiday list is trusted


@pytest.mark.parametrize(("today", "ends"), [
    (date(2026, 12, 4), date(2027, 2, 3)),    # Tết 2027 still "confirmed: false": trusted until the eve
    (date(2026, 8, 1), date(2026, 8, 31)),    # the adjacent Quốc khánh day 1/9/2026 unconfirmed
])
def test_list_ends_before_the_first_unconfirmed_holiday(agency: Agency, today: date, ends: date) -> None:
    assert agency.list_ends(today) == ends
    assert agency.can_promise(ends, today) and not agency.can_promise(ends + timedelta(days=1), today)


def test_no_date_is_promised_beyond_the_list(agency: Agency) -> None:
    today = date(2026, 12, 4)
    # 7 working days from 28/01/2027 end after the unconfirmed Tết 2027 break: not promised.
    assert agency.appointment_date(local(2027, 1, 28, 9, 0), 7, "working_day") == date(2027, 2, 12)
    assert agency.promised_date(local(2027, 1, 28, 9, 0), 7, "working_day", today) is None
    assert agency.promised_date(local(2026, 12, 4, 9, 0), 1, "working_day", today) == date(2026, 12, 4)


@pytest.mark.parametrize(("today", "warns"), [
    (date(2026, 12, 4), False),   # 61 days before 03/02/2027
    (date(2026, 12, 5), True),    # 60 days
    (date(2027, 2, 3), True),
])
def test_officers_are_warned_60_days_before_the_list_ends(agency: Agency, today: date, warns: bool) -> None:
    warning = agency.holiday_warning(today)
    assert (warning is not None) is warns
    if warning:
        assert "03/02/2027" in warning and "confirmed: false" in warning


def test_a_fully_confirmed_list_runs_out_at_the_end_of_its_last_year(tmp_path: Path) -> None:
    agency = Agency.load(write(tmp_path, holidays=[{"date": "2027-09-02", "name": "Quốc khánh"}]))
    assert agency.list_ends(date(2027, 10, 1)) == date(2027, 12, 31)
    assert agency.holiday_warning(date(2027, 10, 1)) is None
    warning = agency.holiday_warning(date(2027, 11, 1))
    assert warning is not None and "31/12/2027" in warning
    assert agency.promised_date(local(2027, 12, 30, 9, 0), 3, "working_day", date(2027, 12, 30)) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    # No list at all: no date can be promised.
    assert Agency.load(write(empty, holidays=[])).promised_date(
        local(2027, 12, 30, 9, 0), 1, "working_day", date(2027, 12, 30)) is None


def test_cutoff_is_read_in_local_time(agency: Agency) -> None:
    # 08:30 UTC is 15:30 in Hà Nội: after the cut-off although the UTC clock says morning.
    received = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
    assert agency.counting_start(received) == date(2026, 3, 3)
    # 20:00 UTC on Sunday is 03:00 on Monday in Hà Nội: counted from Monday.
    assert agency.counting_start(datetime(2026, 3, 1, 20, 0, tzinfo=timezone.utc)) == date(2026, 3, 2)


def test_appointment_date_rejects_bad_input(agency: Agency) -> None:
    with pytest.raises(ValueError, match="aware"):
        agency.appointment_date(datetime(2026, 3, 2, 9, 0), 1, "working_day")
    with pytest.raises(ValueError, match="unit"):
        agency.appointment_date(local(2026, 3, 2), 1, "fortnight")
    with pytest.raises(ValueError):
        agency.appointment_date(local(2026, 3, 2), -1, "working_day")
    with pytest.raises(ValueError):
        agency.appointment_date(local(2026, 3, 2), float("nan"), "day")


# --------------------------------------------------------------------------------------------
# Opening hours


@pytest.mark.parametrize(("moment", "is_open"), [
    (local(2026, 3, 2, 7, 29), False),
    (local(2026, 3, 2, 7, 30), True),
    (local(2026, 3, 2, 11, 29), True),
    (local(2026, 3, 2, 12, 0), False),     # lunch break
    (local(2026, 3, 2, 16, 59), True),
    (local(2026, 3, 2, 17, 0), False),     # end is exclusive
    (local(2026, 3, 7, 9, 0), False),      # Saturday
    (local(2026, 2, 18, 9, 0), False),     # Tết
    (local(2026, 1, 10, 9, 0), True),      # make-up Saturday
])
def test_is_open(agency: Agency, moment: datetime, is_open: bool) -> None:
    assert agency.is_open(moment) is is_open


@pytest.mark.parametrize(("after", "opening"), [
    (local(2026, 3, 2, 12, 0), datetime(2026, 3, 2, 13, 30, tzinfo=VN)),
    (local(2026, 3, 2, 6, 0), datetime(2026, 3, 2, 7, 30, tzinfo=VN)),
    (local(2026, 3, 6, 17, 30), datetime(2026, 3, 9, 7, 30, tzinfo=VN)),     # Friday evening -> Monday
    (local(2026, 2, 13, 17, 0), datetime(2026, 2, 23, 7, 30, tzinfo=VN)),    # across Tết
    (local(2026, 1, 9, 18, 0), datetime(2026, 1, 10, 7, 30, tzinfo=VN)),     # make-up Saturday
    (local(2026, 3, 2, 9, 15), datetime(2026, 3, 2, 9, 15, tzinfo=VN)),      # already open
])
def test_next_opening(agency: Agency, after: datetime, opening: datetime) -> None:
    result = agency.next_opening(after)
    assert result == opening
    assert result.utcoffset() == timedelta(hours=7)
    assert agency.is_open(result)


def test_office_text(agency: Agency) -> None:
    text = agency.office_text()
    for part in (agency.name, agency.address, agency.phone, agency.map_url, "Thứ Hai – Thứ Sáu",
                 "7:30–11:30, 13:30–17:00", "15:00"):
        assert part in text
    assert "Thứ Bảy" not in text
    assert len(text) < 1000
    closed = agency.office_text(now=local(2026, 2, 15, 10, 0))
    assert "23/02/2026" in closed and "7:30" in closed
    assert "đang mở cửa" in agency.office_text(now=local(2026, 3, 2, 9, 0))


# --------------------------------------------------------------------------------------------
# Other configurations


BASE: dict = {
    "name": "Trung tâm Phục vụ hành chính công xã Thử",
    "address": "Xã Thử",
    "phone": "0200 000 000",
    "agency_code": "000.00.01.H01",
    "opening_hours": {"mon": [["07:30", "11:30"]], "tue": [["07:30", "11:30"]],
                      "wed": [["07:30", "11:30"]], "thu": [["07:30", "11:30"]],
                      "fri": [["07:30", "11:30"]]},
    "accepted_procedures": ["1.001193"],
}


def write(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "agency.yml"
    path.write_text(yaml.safe_dump({**BASE, **changes}, allow_unicode=True), encoding="utf-8")
    return path


def test_saturday_morning_opening_is_not_a_working_day(tmp_path: Path) -> None:
    hours = {**BASE["opening_hours"], "sat": [["07:30", "11:30"]]}
    agency = Agency.load(write(tmp_path, opening_hours=hours))
    saturday = local(2026, 3, 7, 9, 0)
    assert agency.is_open(saturday)
    assert not agency.is_working_day(date(2026, 3, 7))
    assert agency.appointment_date(saturday, 1, "working_day") == date(2026, 3, 9)
    assert "Thứ Bảy" in agency.office_text()
    assert agency.dossier_code_prefix == "000.00.01.H01"


def test_unquoted_procedure_codes_are_restored(tmp_path: Path) -> None:
    path = tmp_path / "agency.yml"
    body = yaml.safe_dump({k: v for k, v in BASE.items() if k != "accepted_procedures"}, allow_unicode=True)
    path.write_text(body + "accepted_procedures: [1.010040, 2.000815]\n", encoding="utf-8")
    assert Agency.load(path).accepted_procedures == {"1.010040", "2.000815"}


def test_unquoted_yaml_time_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "agency.yml"
    body = yaml.safe_dump(BASE, allow_unicode=True) + "same_day_cutoff: 16:30\n"   # YAML 1.1 reads 990
    path.write_text(body, encoding="utf-8")
    assert Agency.load(path).cutoff == time(16, 30)


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "name"),
    ({"opening_hours": {"mon": [["11:30", "07:30"]]}}, "start"),
    ({"opening_hours": {"mon": [["07:30", "11:30"], ["11:00", "12:00"]]}}, "overlap"),
    ({"opening_hours": {"monday": [["07:30", "11:30"]]}}, "weekday"),
    ({"opening_hours": {"mon": [["7h30", "11:30"]]}}, "time"),
    ({"opening_hours": {}}, "never open"),
    ({"same_day_cutoff": "late"}, "same_day_cutoff"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"holidays": [{"date": "2026-13-01", "name": "x"}]}, "holidays"),
    ({"holidays": [{"date": "2026-01-10", "name": "x"}], "make_up_working_days": ["2026-01-10"]}, "also"),
    ({"accepted_procedures": "1.001193"}, "accepted_procedures"),
])
def test_bad_configuration_is_reported(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(AgencyConfigError, match=message):
        Agency.load(write(tmp_path, **changes))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AgencyConfigError, match="not found"):
        Agency.load(tmp_path / "nope.yml")


def test_hosted_desks_are_agency_kinds() -> None:
    base = {"name": "x", "address": "y", "phone": "1", "agency_code": "000.00.12.H62",
            "opening_hours": {"mon": [["07:30", "11:30"]]}}
    assert Agency.from_dict({**base, "hosted_desks": ["police"]}).hosted_desks == frozenset({"police"})
    assert Agency.from_dict(base).hosted_desks == frozenset()
    with pytest.raises(AgencyConfigError, match="hosted_desks"):
        Agency.from_dict({**base, "hosted_desks": ["công an"]})
    with pytest.raises(AgencyConfigError, match="hosted_desks"):
        Agency.from_dict({**base, "hosted_desks": "police"})
