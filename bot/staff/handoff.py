"""What the citizen is told when a conversation is handed to an officer: why, and when they will answer.

The one handoff notice: the dialogue (`flows.dialogue.handoff`) sends it whenever it sets
`conversation.mode = "waiting_human"`. Inside opening hours the citizen hears that an officer will answer
shortly; outside them, from when (the agency's next opening, in its own time zone).
"""

from __future__ import annotations

from datetime import datetime

from bot.agency import Agency
from bot.messages import Reply
from bot.templates import text

# Why the bot hands over (conversation.handoff_reason); each has a citizen text `staff.handoff_<reason>`.
# `turn_failed`: the bot could not process a message (a dead letter, bot/pipeline/deadletter.py).
REASONS = ("request_human", "complaint", "not_understood", "invalid_answers", "turn_failed")


def format_when(agency: Agency, moment: datetime) -> str:
    """ "08:00 thứ Hai, 30/11/2026" in the agency's local time."""
    local = agency.local(moment)
    weekday = text(f"staff.weekday_{local.weekday()}")
    return f"{local:%H:%M} {weekday}, {local:%d/%m/%Y}"


def handoff_notice(agency: Agency, now: datetime, reason: str = "request_human") -> Reply:
    """One message: why the conversation went to an officer, then when an officer will answer."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    if agency.is_open(now):
        when = text("staff.handoff_open")
    else:
        when = text("staff.handoff_closed", when=format_when(agency, agency.next_opening(now)))
    return Reply.say(f"{text(f'staff.handoff_{reason}')}\n{when}")
