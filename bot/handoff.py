"""Who owns a conversation, and the one place that changes it; what the citizen hears when staff take over.

`conversation.mode`: "bot" (the dialogue answers), "waiting_human" (the bot handed over, an officer has not
taken it yet), "human" (an officer claimed it in the console), "paused" (someone answers on the platform
itself: an officer typing in the Zalo OA, or another app holding Messenger's thread control). The dialogue
(`flows`), the staff console (`bot.staff`) and the event worker change it only through these functions.

The handoff notice: inside opening hours the citizen hears that an officer will answer shortly; outside
them, from when (the agency's next opening, in its own time zone).
"""

from __future__ import annotations

from datetime import datetime

from bot.agency import Agency
from bot.messages import Reply
from bot.models import Conversation
from bot.templates import text

# Why the bot hands over (conversation.handoff_reason); each has a citizen text `staff.handoff_<reason>`.
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


def to_staff(conv: Conversation, reason: str, now: datetime) -> None:
    """The bot hands over (the citizen asked, a complaint, not understood): staff answer from now on."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    conv.mode, conv.handoff_reason, conv.handoff_since = "waiting_human", reason, now


def pause(conv: Conversation, reason: str, now: datetime) -> None:
    """Someone answers on the platform itself (`reason` says who): the bot steps back, if it had the chat."""
    if conv.mode == "bot":
        conv.mode, conv.handoff_reason, conv.handoff_since = "paused", reason, now


def unpause(conv: Conversation) -> None:
    """The platform passed thread control back: the bot answers again (only after a platform pause)."""
    if conv.mode == "paused":
        conv.mode, conv.handoff_reason, conv.handoff_since = "bot", None, None


def claim(conv: Conversation, staff_id: int, now: datetime) -> str:
    """An officer takes the conversation in the console; returns who had it before (for the audit log)."""
    previous = conv.mode
    conv.mode, conv.assigned_staff_id = "human", staff_id
    conv.handoff_since = conv.handoff_since or now
    return previous


def hand_back(conv: Conversation, *, close: bool = False) -> None:
    """Staff give the conversation back to the bot; `close` also forgets the draft flow."""
    conv.mode, conv.assigned_staff_id, conv.handoff_reason, conv.handoff_since = "bot", None, None, None
    conv.failed_understanding = 0
    if close:
        conv.state = {}
