"""The centre's figures for a period: one computation behind the staff dashboard, its CSV files and
`GET /api/v1/stats`.

A period is a range of the agency's local days (both ends included); its bounds are converted to UTC once,
so every count uses the indexed `created_at` / `received_at` columns. Per-day series group in SQL on the
agency's local day (PostgreSQL `timezone()`; SQLite by the zone's UTC offset, which Asia/Ho_Chi_Minh keeps
all year).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, select
from sqlalchemy.orm import Session, aliased

from bot.agency import Agency
from bot.dossier import CLOSED_STATUSES
from bot.handoff import REASONS
from bot.models import Conversation, Dossier, Message, SatisfactionRating, StaffUser
from bot.models.dossier import STATUSES

PERIODS = {"today": 1, "7d": 7, "30d": 30}
HANDOFFS = tuple(f"handoff_{reason}" for reason in REASONS)  # message.outcome of a handoff
TOP = 10
# A procedure the linker ranked at least this high was really named (flows.dialogue.CANDIDATE_MIN).
NAMED_PROCEDURE = 0.65


class PeriodError(ValueError):
    """A period that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Period:
    first: date  # local days, both included
    last: date
    channel: str | None = None

    @classmethod
    def parse(cls, today: date, name: str | None = None, start: str | None = None, end: str | None = None,
              channel: str | None = None) -> Period:
        """`name` (today, 7d, 30d) counts back from `today`; otherwise `start`/`end` as YYYY-MM-DD."""
        channel = channel or None
        if start or end:
            try:
                first = date.fromisoformat((start or end or "").strip())
                last = date.fromisoformat((end or start or "").strip())
            except ValueError as exc:
                raise PeriodError("dates must be YYYY-MM-DD") from exc
            if last < first:
                raise PeriodError("the period ends before it starts")
            if (last - first).days > 366:
                raise PeriodError("a period is at most 367 days")
            if not (date.min + timedelta(days=2) <= first and last <= date.max - timedelta(days=2)):
                raise PeriodError("the period is outside the calendar")  # no local midnight in UTC there
            return cls(first, last, channel)
        days = PERIODS.get(name or "7d")
        if days is None:
            raise PeriodError(f"period is one of {', '.join(PERIODS)} or from/to dates")
        return cls(today - timedelta(days=days - 1), today, channel)

    def bounds(self, agency: Agency) -> tuple[datetime, datetime]:
        """[start, end) in UTC-aware datetimes: local midnight of the first day to that after the last."""
        start = datetime.combine(self.first, time.min, agency.timezone)
        end = datetime.combine(self.last + timedelta(days=1), time.min, agency.timezone)
        return start, end

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def _local_day(session: Session, column: Any, agency: Agency, at: datetime) -> ColumnElement[Any]:
    """SQL for the agency's local date of a UTC timestamp column, on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(agency.timezone.key, column))
    offset = at.astimezone(agency.timezone).utcoffset() or timedelta(0)
    return func.date(column, f"{int(offset.total_seconds()):+d} seconds")


def _quantiles(values: list[float]) -> dict[str, float | int | None]:
    """Median and 90th percentile (inclusive method: within the observed values) in seconds."""
    if not values:
        return {"count": 0, "median": None, "p90": None}
    if len(values) == 1:
        return {"count": 1, "median": round(values[0], 1), "p90": round(values[0], 1)}
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {"count": len(values), "median": round(statistics.median(values), 1), "p90": round(deciles[8], 1)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class Stats:
    """Computes the figures of one period; `figures()` returns them as one JSON-ready dict."""

    def __init__(self, session: Session, agency: Agency, period: Period, now: datetime) -> None:
        self.session, self.agency, self.period, self.now = session, agency, period, now
        self.start, self.end = period.bounds(agency)

    # ------------------------------------------------------------ filters

    def _messages(self, *columns: Any) -> Select[Any]:
        query = (select(*columns).select_from(Message)
                 .where(Message.created_at >= self.start, Message.created_at < self.end))
        if self.period.channel:
            query = query.join(Conversation, Conversation.id == Message.conversation_id).where(
                Conversation.channel == self.period.channel)
        return query

    def _citizen(self, *columns: Any) -> Select[Any]:
        return self._messages(*columns).where(Message.author == "citizen")

    def _dossiers(self, *columns: Any) -> Select[Any]:
        query = select(*columns).where(Dossier.received_at >= self.start, Dossier.received_at < self.end)
        if self.period.channel:
            query = query.where(Dossier.channel == self.period.channel)
        return query

    # ------------------------------------------------------------ figures

    def conversations(self) -> dict[str, Any]:
        """Conversations with a citizen message in the period, and how many the bot handled alone."""
        session = self.session
        active = session.scalar(self._citizen(func.count(distinct(Message.conversation_id)))) or 0
        needed_human = session.scalar(self._messages(func.count(distinct(Message.conversation_id))).where(
            (Message.author == "staff") | Message.outcome.in_(HANDOFFS))) or 0
        return {"conversations": active, "conversations_with_officer": needed_human,
                "bot_only_share": _share(max(active - needed_human, 0), active)}

    def messages(self) -> dict[str, Any]:
        session = self.session
        citizen = session.scalar(self._citizen(func.count(Message.id))) or 0
        understood = session.scalar(self._citizen(func.count(Message.id)).where(
            Message.confidence.is_not(None))) or 0
        fallbacks = session.scalar(self._citizen(func.count(Message.id)).where(
            Message.outcome.in_(("fallback", "handoff_not_understood")))) or 0
        reasons = session.execute(self._citizen(Message.outcome, func.count(Message.id)).where(
            Message.outcome.in_(HANDOFFS)).group_by(Message.outcome)).all()
        return {
            "citizen_messages": citizen,
            "nlu_messages": understood,
            "fallbacks": fallbacks,
            "fallback_rate": _share(fallbacks, understood),
            "handoffs": sum(n for _, n in reasons),
            "handoffs_by_reason": {outcome.removeprefix("handoff_"): n for outcome, n in sorted(reasons)},
        }

    def messages_per_day(self) -> list[dict[str, Any]]:
        """Citizen messages per local day and channel, every day of the period present (zeros included)."""
        day = _local_day(self.session, Message.created_at, self.agency, self.start).label("day")
        query = (select(day, Conversation.channel, func.count(Message.id))
                 .select_from(Message).join(Conversation, Conversation.id == Message.conversation_id)
                 .where(Message.created_at >= self.start, Message.created_at < self.end,
                        Message.author == "citizen"))
        if self.period.channel:
            query = query.where(Conversation.channel == self.period.channel)
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for d, channel, n in self.session.execute(query.group_by(day, Conversation.channel)):
            counts[str(d)][channel] += n  # a date (PostgreSQL) or its ISO text (SQLite)
        return [{"day": d.isoformat(), **dict(counts.get(d.isoformat(), {}))} for d in self.period.days()]

    def response_times(self) -> dict[str, Any]:
        """Officers' first answer after each handoff: median and p90 in seconds, inside/outside hours."""
        staff = aliased(Message)
        first_answer = (select(func.min(staff.created_at))
                        .where(staff.conversation_id == Message.conversation_id, staff.author == "staff",
                               staff.created_at >= Message.created_at)
                        .correlate(Message).scalar_subquery())
        rows = self.session.execute(self._citizen(Message.created_at, first_answer).where(
            Message.outcome.in_(HANDOFFS))).all()
        inside: list[float] = []
        outside: list[float] = []
        unanswered = 0
        for asked, answered in rows:
            if answered is None:
                unanswered += 1
                continue
            if answered.tzinfo is None:  # a bare aggregate on SQLite: the column's UTC, without its type
                answered = answered.replace(tzinfo=asked.tzinfo)
            seconds = (answered - asked).total_seconds()
            (inside if self.agency.is_open(asked) else outside).append(seconds)
        return {"all": _quantiles(inside + outside), "opening_hours": _quantiles(inside),
                "outside_hours": _quantiles(outside), "unanswered": unanswered}

    def dossiers(self) -> dict[str, Any]:
        session = self.session
        per_procedure = session.execute(
            self._dossiers(Dossier.procedure_code, func.max(Dossier.procedure_name), func.count(Dossier.id))
            .group_by(Dossier.procedure_code).order_by(func.count(Dossier.id).desc(), Dossier.procedure_code)
        ).all()
        day = _local_day(session, Dossier.received_at, self.agency, self.start).label("day")
        per_day = {str(d): n for d, n in session.execute(self._dossiers(day, func.count(Dossier.id))
                                                          .group_by(day))}
        funnel = dict(session.execute(self._dossiers(Dossier.status, func.count(Dossier.id))
                                      .group_by(Dossier.status)).all())
        today = self.now.astimezone(self.agency.timezone).date()
        overdue_query = select(func.count(Dossier.id)).where(
            Dossier.status.not_in(CLOSED_STATUSES), Dossier.appointment_date < today)
        if self.period.channel:
            overdue_query = overdue_query.where(Dossier.channel == self.period.channel)
        return {
            "submitted": sum(n for _, _, n in per_procedure),
            "per_procedure": [{"code": c, "name": name or "", "count": n} for c, name, n in per_procedure],
            "per_day": [{"day": d.isoformat(), "count": per_day.get(d.isoformat(), 0)}
                        for d in self.period.days()],
            "status_funnel": {status: funnel.get(status, 0) for status in STATUSES},
            "overdue_now": session.scalar(overdue_query) or 0,
        }

    def top_asked(self) -> dict[str, Any]:
        session = self.session
        intents = session.execute(
            self._citizen(Message.intent, func.count(Message.id)).where(Message.intent.is_not(None))
            .group_by(Message.intent).order_by(func.count(Message.id).desc(), Message.intent).limit(TOP)
        ).all()
        procedures = session.execute(
            self._citizen(Message.procedure_code, func.count(Message.id))
            .where(Message.procedure_code.is_not(None), Message.procedure_score >= NAMED_PROCEDURE)
            .group_by(Message.procedure_code)
            .order_by(func.count(Message.id).desc(), Message.procedure_code).limit(TOP)).all()
        return {"intents": [{"intent": i, "count": n} for i, n in intents],
                "procedures": [{"code": c, "count": n} for c, n in procedures]}

    def satisfaction(self, *, by_officer: bool = False) -> dict[str, Any]:
        query = select(SatisfactionRating.score, func.count(SatisfactionRating.id)).where(
            SatisfactionRating.asked_at >= self.start, SatisfactionRating.asked_at < self.end)
        if self.period.channel:
            query = query.join(Conversation, Conversation.id == SatisfactionRating.conversation_id).where(
                Conversation.channel == self.period.channel)
        scores = dict(self.session.execute(query.group_by(SatisfactionRating.score)).all())
        answered = sum(n for s, n in scores.items() if s is not None)
        total = sum(s * n for s, n in scores.items() if s is not None)
        result: dict[str, Any] = {
            "asked": sum(scores.values()),
            "answered": answered,
            "average": round(total / answered, 2) if answered else None,
            "distribution": {str(s): scores.get(s, 0) for s in range(1, 6)},
        }
        if by_officer:  # admins only: the console decides
            rows = self.session.execute(
                query.with_only_columns(StaffUser.username, func.count(SatisfactionRating.score),
                                        func.avg(SatisfactionRating.score))
                .join(StaffUser, StaffUser.id == SatisfactionRating.staff_id)
                .group_by(StaffUser.username).order_by(StaffUser.username)).all()
            result["by_officer"] = [
                {"officer": u, "answered": n, "average": round(float(a), 2) if a else None}
                for u, n, a in rows
            ]
        return result

    def figures(self, *, by_officer: bool = False) -> dict[str, Any]:
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                       "channel": self.period.channel, "timezone": self.agency.timezone.key},
            **self.conversations(),
            **self.messages(),
            "messages_per_day": self.messages_per_day(),
            "first_response_seconds": self.response_times(),
            "dossiers": self.dossiers(),
            "top": self.top_asked(),
            "satisfaction": self.satisfaction(by_officer=by_officer),
        }


def channels_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The channels present in a `messages_per_day` series, in a stable order."""
    return sorted({key for row in rows for key in row if key != "day"})

