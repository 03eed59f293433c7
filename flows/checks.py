"""Cross-field rules of a flow (`checks:` in data/flows/*.yml): run when an answer is about to be stored.

A rule is tried once all the slots it names are known, taking the new answer into account; a failing rule
refuses that answer (the citizen reads the rule's `say` and is asked the same question again), so what is
stored always satisfies every rule. "Today" is the agency's local date.
"""

from __future__ import annotations

import operator
from datetime import date, datetime
from typing import Any

from bot.agency import local_today
from flows.steps import Check, Comparison, Flow, Term

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}


def full_years(born: date, on: date) -> int:
    """Completed years of age on `on` (a birthday on 29/02 counts from 01/03 in other years)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _value(term: Term, slots: dict[str, Any], today: date) -> int | date | None:
    if term.kind == "number":
        return term.number
    if term.kind == "today":
        return today
    found = _date(slots.get(term.slot))
    if found is None:
        return None
    return full_years(found, today) if term.kind == "age" else found


def _holds(comparison: Comparison, slots: dict[str, Any], today: date) -> bool | None:
    left, right = _value(comparison.left, slots, today), _value(comparison.right, slots, today)
    if left is None or right is None:
        return None  # not known yet: nothing to say
    return bool(_OPS[comparison.op](left, right))


def _known(slot: str, slots: dict[str, Any]) -> bool:
    return slots.get(slot) not in (None, "")


def failing(flow: Flow, slots: dict[str, Any], now: datetime, changed: str | None = None) -> Check | None:
    """The first rule these answers break (only rules naming `changed`, when given), or None."""
    today = local_today(now)
    for check in flow.checks:
        if changed is not None and changed not in check.slots:
            continue
        if not all(_known(s, slots) for s in check.slots):
            continue
        if not all(c.holds(slots) for c in check.when):
            continue
        if check.require is None or _holds(check.require, slots, today) is False:
            return check
    return None
