"""Delivery and read receipts: which of our sent messages reached the citizen's phone, and were seen.

Zalo names the OA message a `user_received_message` / `user_seen_message` is about (channels.md §1.2);
Messenger sends `delivery` (message ids and a watermark) and `read` (a watermark: everything sent before
it). A receipt for one message also covers the earlier ones of the conversation: chats are read in order.
Officers see the state of the last message sent on the conversation page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.models import Conversation, Notification, OutboxMessage
from bot.pipeline.store import lists_id

OB = OutboxMessage
SEEN_EVENTS = ("user_seen_message", "read")


def apply_receipt(session: Session, channel: str, user_id: str, detail: dict[str, Any], now: datetime) -> int:
    """Mark our sent messages the receipt covers delivered (and seen); returns how many rows changed."""
    told = _notifications(session, channel, detail, now)
    conversation_id = session.scalar(select(Conversation.id).where(
        Conversation.channel == channel, Conversation.user_id == user_id))
    if conversation_id is None:
        return told
    sent = and_(OB.conversation_id == conversation_id, OB.status == "sent")
    reach = []
    ids = [str(i) for i in detail.get("message_ids") or () if i]
    if ids:
        named = session.scalar(select(func.max(OB.id)).where(
            sent, or_(*(lists_id(OB.platform_message_id, i) for i in ids))))
        if named is not None:
            reach.append(OB.id <= named)
    watermark = from_ms(detail.get("watermark"))
    if watermark is not None:
        reach.append(OB.sent_at <= watermark)
    if not reach:
        return 0
    at = from_ms(detail.get("at_ms")) or now
    seen = detail.get("event") in SEEN_EVENTS
    column = OB.seen_at if seen else OB.delivered_at
    values = {"delivered_at": func.coalesce(OB.delivered_at, at)}
    if seen:
        values["seen_at"] = at
    return told + int(session.execute(
        update(OB).where(sent, or_(*reach), column.is_(None)).values(values)
        .execution_options(synchronize_session=False)
    ).rowcount or 0)


def _notifications(session: Session, channel: str, detail: dict[str, Any], now: datetime) -> int:
    """A Zalo receipt naming a ZNS message we sent (its msg_id [U]: ZNS receipts share the OA's webhook):
    that notification was delivered. The recipient of a ZNS may have no conversation with the OA."""
    ids = [str(i) for i in detail.get("message_ids") or () if i]
    if channel != "zalo" or not ids:
        return 0
    at = from_ms(detail.get("at_ms")) or now
    return int(session.execute(
        update(Notification).where(Notification.channel == "zns", Notification.state == "sent",
                                   Notification.platform_id.in_(ids))
        .values(state="delivered", delivered_at=at).execution_options(synchronize_session=False)
    ).rowcount or 0)


def from_ms(value: object) -> datetime | None:
    """A platform timestamp in milliseconds (number or digits), as UTC; None when absent or not a number."""
    try:
        return datetime.fromtimestamp(int(float(str(value))) / 1000, UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None
