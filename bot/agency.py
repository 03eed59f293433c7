"""The agency running this bot: identity, opening hours, holidays and working-day arithmetic.

Everything that differs between commune centres lives in data/agency.yml, so a new agency edits
one file instead of code. Appointment dates on receipts, "is the office open now?" and the
ask_office answer are all computed here, so every part of the bot agrees on what a working day is.

Times: the agency works in its local time zone (Asia/Ho_Chi_Minh by default). Functions taking a
datetime expect an aware datetime (the database stores UTC); a naive one is rejected rather than
guessed, because a wrong zone silently shifts the 15:00 cut-off by seven hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.address import AGENCY_FORMS, DEFAULT_FORM
from bot.config import DATA_DIR
from bot.templates import text

DEFAULT_PATH = DATA_DIR / "agency.yml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Units a processing time may carry (the catalogue importer uses the same names).
UNITS = ("working_day", "day", "hour", "month")
# Length of an office working day, used only to turn a duration in hours into working days.
WORKING_HOURS_PER_DAY = 8
# Agency kinds that can keep a desk at a commune centre (the kinds of data/catalog/agencies.yml but "centre").
HOSTABLE_DESKS = ("police", "tax", "customs", "social_insurance", "treasury", "land_office", "other")
# Safety bound for searches over the calendar: no agency closes for more than a year.
_MAX_SCAN_DAYS = 400
# Officers are warned this many days before the trusted holiday list ends (data/agency.yml).
HOLIDAY_WARNING_DAYS = 60

Interval = tuple[time, time]


class AgencyConfigError(ValueError):
    """data/agency.yml is missing a field or holds a value that cannot be used."""


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    confirmed: bool = True  # False: expected date, not yet announced by the government


@dataclass(frozen=True)
class Agency:
    """Typed view of data/agency.yml; build it with `Agency.load()`."""

    name: str
    address: str
    phone: str
    email: str
    map_url: str
    agency_code: str
    dossier_code_prefix: str
    timezone: ZoneInfo
    opening_hours: Mapping[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> open intervals
    cutoff: time  # dossiers received at or after this time count from the next working day
    accepted_procedures: frozenset[str]
    # Other agencies' desks at this centre (kinds of bot/catalog/competence.py, e.g. "police"): their
    # procedures are received here, and may then be listed in accepted_procedures.
    hosted_desks: frozenset[str] = frozenset()
    holidays: Mapping[date, Holiday] = field(default_factory=dict)
    make_up_working_days: frozenset[date] = frozenset()
    make_up_hours: tuple[Interval, ...] = ()
    address_form: str = DEFAULT_FORM  # how the bot calls citizens: "anh/chị" or "ông/bà" (bot.address)

    # ----------------------------------------------------------------------------------------
    # Loading

    @classmethod
    def load(cls, path: Path | str | None = None) -> Agency:
        """The agency described by `path` (default data/agency.yml), parsed once and cached."""
        return _load_cached(str(Path(path) if path else DEFAULT_PATH))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Agency:
        """Validate a parsed agency.yml; every problem names the field at fault."""
        if not isinstance(raw, Mapping):
            raise AgencyConfigError("agency.yml must be a mapping")
        try:
            zone = ZoneInfo(str(raw.get("timezone") or "Asia/Ho_Chi_Minh"))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise AgencyConfigError(f"timezone: unknown zone {raw.get('timezone')!r}") from exc
        hours_raw = raw.get("opening_hours")
        if not isinstance(hours_raw, Mapping):
            raise AgencyConfigError("opening_hours: expected a mapping mon..sun -> list of [start, end]")
        unknown = set(map(str, hours_raw)) - set(WEEKDAYS)
        if unknown:
            raise AgencyConfigError(f"opening_hours: unknown weekday keys {sorted(unknown)}")
        hours = {i: _intervals(hours_raw.get(day), f"opening_hours.{day}") for i, day in enumerate(WEEKDAYS)}
        if not any(hours.values()):
            raise AgencyConfigError("opening_hours: the office is never open")
        make_up_hours = (
            _intervals(raw["make_up_hours"], "make_up_hours") if raw.get("make_up_hours") else hours[0]
        )
        holidays: dict[date, Holiday] = {}
        for i, item in enumerate(raw.get("holidays") or []):
            if not isinstance(item, Mapping) or "date" not in item:
                raise AgencyConfigError(f"holidays[{i}]: expected {{date: YYYY-MM-DD, name: ...}}")
            day = _date(item["date"], f"holidays[{i}].date")
            holidays[day] = Holiday(day, str(item.get("name") or ""), bool(item.get("confirmed", True)))
        make_up: set[date] = set()
        for i, item in enumerate(raw.get("make_up_working_days") or []):
            value = item.get("date") if isinstance(item, Mapping) else item
            day = _date(value, f"make_up_working_days[{i}]")
            if day in holidays:
                raise AgencyConfigError(f"make_up_working_days[{i}]: {day} is also listed as a holiday")
            make_up.add(day)
        accepted = raw.get("accepted_procedures") or []
        if not isinstance(accepted, list):
            raise AgencyConfigError("accepted_procedures: expected a list of procedure codes")
        desks = raw.get("hosted_desks") or []
        if not isinstance(desks, list) or not all(isinstance(d, str) and d.strip() for d in desks):
            raise AgencyConfigError("hosted_desks: expected a list of agency kinds, e.g. [police]")
        unknown_desks = {d.strip() for d in desks} - set(HOSTABLE_DESKS)
        if unknown_desks:
            raise AgencyConfigError(f"hosted_desks: unknown kinds {sorted(unknown_desks)}; "
                                    f"use {', '.join(HOSTABLE_DESKS)}")
        agency_code = _required(raw, "agency_code")
        return cls(
            name=_required(raw, "name"),
            address=_required(raw, "address"),
            phone=_required(raw, "phone"),
            email=str(raw.get("email") or "").strip(),
            map_url=str(raw.get("map_url") or "").strip(),
            agency_code=agency_code,
            dossier_code_prefix=str(raw.get("dossier_code_prefix") or agency_code).strip(),
            timezone=zone,
            opening_hours=hours,
            cutoff=_time(raw.get("same_day_cutoff", "15:00"), "same_day_cutoff"),
            accepted_procedures=frozenset(_code(c) for c in accepted),
            hosted_desks=frozenset(d.strip() for d in desks),
            holidays=holidays,
            make_up_working_days=frozenset(make_up),
            make_up_hours=make_up_hours,
            address_form=_address_form(raw.get("address_form", DEFAULT_FORM)),
        )

    # ----------------------------------------------------------------------------------------
    # Calendar

    def accepts(self, code: str) -> bool:
        """Whether citizens may submit this procedure through the bot at this agency."""
        return str(code).strip() in self.accepted_procedures

    def is_holiday(self, d: date) -> bool:
        return d in self.holidays

    def is_working_day(self, d: date) -> bool:
        """Monday–Friday that is not a public holiday, or a listed make-up Saturday/Sunday.

        A Saturday on which the centre opens for reception is still not a working day: processing
        times count the civil service's five-day week.
        """
        if d in self.holidays:
            return False
        return d.weekday() < 5 or d in self.make_up_working_days

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        for offset in range(1, _MAX_SCAN_DAYS):
            candidate = d + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise AgencyConfigError(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself is not counted).

        n = 0 gives `start` when it is a working day, else the next working day.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        current = start
        for _ in range(n):
            current = self.next_working_day(current)
        return current

    def hours_on(self, d: date) -> tuple[Interval, ...]:
        """Opening intervals on a date: none on holidays, make-up hours on make-up days."""
        if d in self.holidays:
            return ()
        if d in self.make_up_working_days:
            return self.make_up_hours
        return tuple(self.opening_hours.get(d.weekday(), ()))

    def local(self, at: datetime) -> datetime:
        """`at` in the agency's zone; naive datetimes are refused (their zone is unknown)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("an aware datetime is required (e.g. datetime.now(timezone.utc))")
        return at.astimezone(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether the reception desk is open at this moment."""
        moment = self.local(at)
        t = moment.time().replace(tzinfo=None)
        return any(start <= t < end for start, end in self.hours_on(moment.date()))

    def next_opening(self, after: datetime) -> datetime:
        """The earliest moment at or after `after` when the desk is open (local time, aware).

        When the desk is open at `after`, that moment itself is returned.
        """
        moment = self.local(after)
        t = moment.time().replace(tzinfo=None)
        for offset in range(_MAX_SCAN_DAYS):
            d = moment.date() + timedelta(days=offset)
            for start, end in sorted(self.hours_on(d)):
                if offset == 0:
                    if t >= end:
                        continue
                    if t >= start:
                        return moment
                return datetime.combine(d, start, tzinfo=self.timezone)
        raise AgencyConfigError(f"the office does not open within {_MAX_SCAN_DAYS} days")

    def counting_start(self, received_at: datetime) -> date:
        """The day a dossier counts as received: the local date when that is a working day and
        the dossier arrived before the cut-off time, else the next working day."""
        moment = self.local(received_at)
        d = moment.date()
        if self.is_working_day(d) and moment.time().replace(tzinfo=None) < self.cutoff:
            return d
        return self.next_working_day(d)

    def appointment_date(self, received_at: datetime, duration_value: float | int, unit: str) -> date:
        """The date the result is due (the date printed on the receipt).

        One cut-off rule: the count starts at `counting_start()` (the reception day before the
        cut-off, else the next working day) and that start day is the first day of the period. So a
        1-working-day dossier received Monday 14:59 is due Monday, one received at 15:00 or 16:30 is
        due Tuesday ("nộp sau 15 giờ thì trả kết quả trong ngày làm việc tiếp theo"); the cut-off and
        an extra day are never both applied.
        - "working_day": the n-th working day counting the start day as the first; fractions round
          up (1.5 is 2), a value below 1 means the start day itself.
        - "hour": up to one working day (8 h) is the start day; longer becomes working days.
        - "day": the n-th calendar day counting the start day; a due date on a weekend or holiday
          moves to the next working day, because nothing is handed out while the office is closed.
        - "month": calendar months after the start day (day clamped to the month's end), then
          moved to a working day like "day".
        """
        if unit not in UNITS:
            raise ValueError(f"unknown duration unit {unit!r}; expected one of {', '.join(UNITS)}")
        if (
            isinstance(duration_value, bool)
            or not isinstance(duration_value, int | float)
            or math.isnan(duration_value)
            or duration_value < 0
        ):
            raise ValueError("duration_value must be a non-negative number")
        start = self.counting_start(received_at)
        if unit == "hour":
            days = 0 if duration_value <= WORKING_HOURS_PER_DAY else duration_value / WORKING_HOURS_PER_DAY
            return self.add_working_days(start, max(_whole_days(days) - 1, 0))
        if unit == "working_day":
            return self.add_working_days(start, max(_whole_days(duration_value) - 1, 0))
        if unit == "day":
            due = start + timedelta(days=max(math.ceil(duration_value) - 1, 0))
        else:
            due = _add_months(start, math.ceil(duration_value))
        return self.add_working_days(due, 0)

    # ----------------------------------------------------------------------------------------
    # How far the holiday list can be trusted

    def list_ends(self, today: date) -> date:
        """The last day the holiday list is known to be right, seen from `today`.

        That is the end of the last year listed, or the day before the first holiday still marked
        `confirmed: false` (an expected break not yet announced), whichever comes first. A date after
        it could fall on a holiday nobody has listed, so the bot does not promise it.
        """
        years = [d.year for d in self.holidays]
        end = date(max(years), 12, 31) if years else today - timedelta(days=1)
        pending = [d for d, h in self.holidays.items() if not h.confirmed and d >= today]
        if pending:
            end = min(end, min(pending) - timedelta(days=1))
        return end

    def can_promise(self, due: date, today: date) -> bool:
        """Whether a computed date lies inside the trusted holiday list (see `list_ends`)."""
        return due <= self.list_ends(today)

    def promised_date(self, received_at: datetime, duration_value: float | int, unit: str,
                      today: date) -> date | None:
        """`appointment_date`, or None when that date lies beyond the trusted holiday list."""
        due = self.appointment_date(received_at, duration_value, unit)
        return due if self.can_promise(due, today) else None

    def holiday_warning(self, today: date) -> str | None:
        """A note for officers when the trusted holiday list ends within HOLIDAY_WARNING_DAYS."""
        end = self.list_ends(today)
        if (end - today).days > HOLIDAY_WARNING_DAYS:
            return None
        pending = sorted(d for d, h in self.holidays.items() if not h.confirmed and d >= today)
        if pending and pending[0] - timedelta(days=1) == end:
            return text("staff.holidays_unconfirmed", end=end.strftime("%d/%m/%Y"),
                        holiday=self.holidays[pending[0]].name, day=pending[0].strftime("%d/%m/%Y"))
        return text("staff.holidays_run_out", end=end.strftime("%d/%m/%Y"))

    # ----------------------------------------------------------------------------------------
    # Citizen-facing answer

    def hours_text(self) -> str:
        """Opening hours grouped by runs of weekdays with the same intervals."""
        parts: list[str] = []
        i = 0
        while i < 7:
            intervals = tuple(self.opening_hours.get(i, ()))
            j = i
            while j + 1 < 7 and tuple(self.opening_hours.get(j + 1, ())) == intervals:
                j += 1
            if intervals:
                days = (
                    text(f"agency.weekday_{i}")
                    if i == j
                    else text("agency.weekday_range", first=text(f"agency.weekday_{i}"),
                              last=text(f"agency.weekday_{j}"))
                )
                spans = ", ".join(f"{_fmt(a)}–{_fmt(b)}" for a, b in intervals)
                parts.append(text("agency.hours_line", days=days, spans=spans))
            i = j + 1
        return "\n".join(parts)

    def office_text(self, now: datetime | None = None) -> str:
        """The ask_office answer: name, address, hours, phone and map link (chat-sized).

        With `now`, adds whether the desk is open at that moment or when it opens next.
        """
        lines = [
            text("agency.office_intro", name=self.name),
            text("agency.office_address", address=self.address),
            text("agency.office_hours", hours=self.hours_text()),
            text("agency.office_holidays", cutoff=_fmt(self.cutoff)),
            text("agency.office_phone", phone=self.phone),
        ]
        if self.map_url:
            lines.append(text("agency.office_map", map_url=self.map_url))
        if now is not None:
            if self.is_open(now):
                lines.append(text("agency.open_now"))
            else:
                nxt = self.next_opening(now)
                lines.append(text("agency.opens_next", weekday=text(f"agency.weekday_{nxt.weekday()}"),
                                  date=nxt.strftime("%d/%m/%Y"), time=_fmt(nxt.time())))
        return "\n".join(lines)


def local_today(now: datetime | None = None) -> date:
    """Today at the centre: the one definition of "today" for code and tests, whatever the machine's zone.

    `now` defaults to this moment; a naive `now` is taken as already local (validators are given one).
    """
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        return now.date()
    return Agency.load().local(now).date()


# --------------------------------------------------------------------------------------------
# Helpers


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Agency:
    source = Path(path)
    if not source.is_file():
        raise AgencyConfigError(f"agency file not found: {source}")
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AgencyConfigError(f"{source.name}: not valid YAML ({exc})") from exc
    return Agency.from_dict(raw or {})


def _required(raw: Mapping[str, Any], key: str) -> str:
    value = str(raw.get(key) or "").strip()
    if not value:
        raise AgencyConfigError(f"{key}: required")
    return value


def _address_form(value: object) -> str:
    form = str(value or "").strip().lower().replace(" ", "")
    if form not in AGENCY_FORMS:
        raise AgencyConfigError(f"address_form: expected one of {', '.join(AGENCY_FORMS)}, got {value!r}")
    return form


def _time(value: object, where: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 15:00 as the sexagesimal integer 900 (minutes).
        return time(value // 60, value % 60) if 0 <= value < 24 * 60 else _bad_time(value, where)
    try:
        hour, minute = str(value).strip().split(":")
        return time(int(hour), int(minute))
    except (ValueError, TypeError):
        return _bad_time(value, where)


def _bad_time(value: object, where: str) -> time:
    raise AgencyConfigError(f"{where}: {value!r} is not a time like \"07:30\"")


def _intervals(value: object, where: str) -> tuple[Interval, ...]:
    if value in (None, [], ""):
        return ()
    if not isinstance(value, list):
        raise AgencyConfigError(f"{where}: expected a list of [start, end] pairs")
    out: list[Interval] = []
    for k, pair in enumerate(value):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise AgencyConfigError(f"{where}[{k}]: expected [start, end]")
        start, end = _time(pair[0], f"{where}[{k}]"), _time(pair[1], f"{where}[{k}]")
        if start >= end:
            raise AgencyConfigError(f"{where}[{k}]: start {start} is not before end {end}")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in pairwise(out):
        if start < end:
            raise AgencyConfigError(f"{where}: intervals overlap")
    return tuple(out)


def _date(value: object, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise AgencyConfigError(f"{where}: {value!r} is not a date like 2026-01-01") from exc


def _code(value: object) -> str:
    """A procedure code; an unquoted 1.010040 arrives as the float 1.01004 and is restored."""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value).strip()


def _whole_days(value: float | int) -> int:
    """Working days to count: fractions round up, anything below one day is the same day."""
    return 0 if value < 1 else math.ceil(value)


def _add_months(d: date, months: int) -> date:
    month_index = d.month - 1 + months
    year, month = d.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(d.day, (next_month - timedelta(days=1)).day))


def _fmt(t: time) -> str:
    return f"{t.hour}:{t.minute:02d}"

