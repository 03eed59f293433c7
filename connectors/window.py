"""The one place that decides whether, and how, a message may go out to a citizen now.

Zalo OA (channels.md §1.6): a reply addressing the citizen's latest `message_id` within 48 h of their last
message uses the free reply quota; a consultation (CS) message by `user_id` is allowed up to 7 days;
after that only a transaction message (if the agency enabled them) may carry a notification.
Messenger (§2.5): the standard 24 h window (`RESPONSE`); the `HUMAN_AGENT` tag only for messages an officer
wrote, within 7 days; the retired ACCOUNT_UPDATE / CONFIRMED_EVENT_UPDATE / POST_PURCHASE_UPDATE tags are
never used (Meta rejects them with error 100 since 2026-04-27).
Anything else is held: kept in the outbox (visible to staff) and sent when the citizen writes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ZALO_REPLY_WINDOW = timedelta(hours=48)
ZALO_CS_WINDOW = timedelta(days=7)
MESSENGER_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
RETIRED_TAGS = frozenset({"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"})

PURPOSES = ("reply", "notification", "staff")


@dataclass(frozen=True)
class Decision:
    """mode: zalo reply | cs | transaction; messenger RESPONSE | HUMAN_AGENT; direct (web, console); hold."""

    mode: str
    reason: str
    message_id: str | None = None  # Zalo: the citizen message a reply addresses
    tag: str | None = None  # Messenger message tag

    @property
    def allowed(self) -> bool:
        return self.mode != "hold"


def decide(
    channel: str,
    *,
    purpose: str,
    author: str,
    last_inbound_at: datetime | None,
    last_inbound_message_id: str | None,
    now: datetime,
    zalo_transaction: bool = False,
) -> Decision:
    """How a message of `purpose` written by `author` ("bot" | "staff") may go out on `channel` at `now`."""
    if channel not in ("zalo", "facebook"):
        return Decision("direct", "no platform window")
    age = now - last_inbound_at if last_inbound_at is not None else None
    if channel == "zalo":
        return _zalo(purpose, age, last_inbound_message_id, zalo_transaction)
    return _messenger(author, age)


def _zalo(purpose: str, age: timedelta | None, message_id: str | None, transaction: bool) -> Decision:
    if age is not None and age <= ZALO_REPLY_WINDOW and message_id:
        # Free reply quota: 8 replies per citizen message, reset by each new one (§1.6 [C]); after the 8th
        # Zalo bills the message as proactive but still delivers it, so we do not count them here.
        return Decision("reply", "within 48 h of the citizen's message", message_id=message_id)
    if age is not None and age <= ZALO_CS_WINDOW:
        return Decision("cs", "within 7 days of the citizen's message")
    if purpose == "notification" and transaction:
        # [U] whether a pre-approved template is required for transaction messages is disputed (§1.6).
        return Decision("transaction", "notification outside the 7-day window")
    return Decision("hold", "Zalo window closed")


def _messenger(author: str, age: timedelta | None) -> Decision:
    if age is not None and age <= MESSENGER_WINDOW:
        return Decision("RESPONSE", "within the 24 h window")
    if author == "staff" and age is not None and age <= HUMAN_AGENT_WINDOW:
        return Decision("HUMAN_AGENT", "officer reply within 7 days", tag="HUMAN_AGENT")
    # A bot-written or notification message outside 24 h would need an approved utility template
    # ([U] exact send body, §2.5); until one is configured it waits for the citizen.
    return Decision("hold", "Messenger window closed")
