"""What officers and admins ask about notifications: which reached the citizen of a dossier and how, who
was told nothing after the result was ready (for a phone call), and this month's counts and cost."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from bot.agency import Agency, local_today
from bot.config import Settings
from bot.models import Conversation, Dossier, DossierStatusChange, Message, Notification, OutboxMessage
from bot.notify.channels import describe

REACHED = ("sent", "delivered")
FREE_REPLY_WINDOW = timedelta(hours=48)  # Zalo: replies to a citizen message within 48 h are free ...
FREE_REPLIES = 8  # ... up to 8 per citizen message (channels.md §1.6)


def for_dossier(session: Session, dossier_id: int) -> list[tuple[Notification, datetime | None]]:
    """The dossier's notifications, newest first, each with when the platform said it was delivered (ZNS
    receipts; the chat's delivery receipts on its outbox item)."""
    rows = session.execute(
        select(Notification, OutboxMessage.delivered_at)
        .outerjoin(OutboxMessage, and_(Notification.channel == "chat",
                                       OutboxMessage.id == Notification.outbox_id))
        .where(Notification.dossier_id == dossier_id).order_by(Notification.id.desc())).all()
    return [(n, n.delivered_at or chat_delivered) for n, chat_delivered in rows]


def silent(session: Session, now: datetime, days: int) -> list[tuple[Dossier, datetime]]:
    """Dossiers whose result has been ready for `days` days or more and whose citizen no notification of it
    reached, oldest first, with when the result became ready: the officers call them."""
    ready_at = (select(DossierStatusChange.dossier_id, func.max(DossierStatusChange.created_at).label("at"))
                .where(DossierStatusChange.status == "result_ready")
                .group_by(DossierStatusChange.dossier_id).subquery())
    told = exists().where(Notification.dossier_id == Dossier.id,
                          Notification.dossier_status == "result_ready", Notification.state.in_(REACHED))
    rows = session.execute(
        select(Dossier, ready_at.c.at).join(ready_at, ready_at.c.dossier_id == Dossier.id)
        .where(Dossier.status == "result_ready", ready_at.c.at <= now - timedelta(days=days), ~told)
        .order_by(ready_at.c.at).limit(500)).all()
    return [(dossier, at) for dossier, at in rows]


@dataclass(frozen=True)
class Month:
    start: datetime
    zns: int
    sms: int
    zalo_free: int
    zalo_proactive: int
    cost: int
    channels: str


def month_start(now: datetime) -> datetime:
    """The first instant of the agency's current month, in UTC."""
    first = local_today(now).replace(day=1)
    return datetime.combine(first, time(0), Agency.load().timezone).astimezone(UTC)


def this_month(session: Session, settings: Settings, now: datetime) -> Month:
    """ZNS and SMS sent this month, Zalo OA messages split into free replies and proactive ones, the cost."""
    start = month_start(now)
    by_channel = dict(session.execute(
        select(Notification.channel, func.count()).where(Notification.state.in_(REACHED),
                                                        Notification.sent_at >= start)
        .group_by(Notification.channel)).all())
    free, proactive = _zalo_split(session, start)
    zns, sms = int(by_channel.get("zns", 0)), int(by_channel.get("sms", 0))
    cost = zns * settings.price_zns + sms * settings.price_sms + proactive * settings.price_zalo_proactive
    return Month(start, zns, sms, free, proactive, cost, describe(settings))


def _zalo_split(session: Session, start: datetime) -> tuple[int, int]:
    """Zalo messages sent this month: a reply within 48 h of the citizen's message, among the first 8 for that
    message, is free; any other is a proactive (paid) message."""
    sent = session.execute(
        select(OutboxMessage.conversation_id, OutboxMessage.sent_at)
        .where(OutboxMessage.channel == "zalo", OutboxMessage.status == "sent",
               OutboxMessage.sent_at >= start)
        .order_by(OutboxMessage.sent_at)).all()
    if not sent:
        return 0, 0
    inbound: dict[int, list[datetime]] = defaultdict(list)
    for conversation_id, at in session.execute(
            select(Message.conversation_id, Message.created_at)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(and_(Conversation.channel == "zalo", Message.author == "citizen",
                        Message.created_at >= start - FREE_REPLY_WINDOW))
            .order_by(Message.created_at)):
        inbound[conversation_id].append(at)
    used: dict[tuple[int, int], int] = defaultdict(int)
    free = proactive = 0
    for conversation_id, at in sent:
        times = inbound.get(conversation_id, [])
        index = bisect_right(times, at) - 1
        key = (conversation_id, index)
        if index >= 0 and at - times[index] <= FREE_REPLY_WINDOW and used[key] < FREE_REPLIES:
            used[key] += 1
            free += 1
        else:
            proactive += 1
    return free, proactive
