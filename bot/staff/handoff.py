"""What the citizen is told when a conversation is handed to an officer.

Called by the dialogue when it sets `conversation.mode = "waiting_human"`: inside opening hours the
citizen hears that an officer will answer shortly; outside them, from when an officer will answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.messages import Reply
from bot.templates import text

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class OpeningHours(Protocol):
    """The part of `bot.agency.Agency` this module needs."""

    def is_open(self, now: datetime) -> bool: ...

    def next_opening(self, now: datetime) -> datetime: ...


def format_when(moment: datetime, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """ "08:00 thứ Hai, 30/11/2026" in the agency's local time (a naive datetime is taken as local)."""
    local = moment.astimezone(tz) if moment.tzinfo is not None else moment
    weekday = text(f"staff.weekday_{local.weekday()}")
    return f"{local:%H:%M} {weekday}, {local:%d/%m/%Y}"


def handoff_notice(agency: OpeningHours, now: datetime) -> Reply:
    """The reply that tells the citizen when an officer will answer."""
    if agency.is_open(now):
        return Reply(kind="text", text=text("staff.handoff_open"))
    tz = getattr(agency, "timezone", None) or getattr(agency, "tz", None)
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz) if isinstance(tz, str) and tz else DEFAULT_TZ
    return Reply(
        kind="text", text=text("staff.handoff_closed", when=format_when(agency.next_opening(now), zone))
    )
