"""Outbox dispatch: send what the turns wrote, in order per conversation, under the window policy.

Network errors, 5xx and rate limits are retried with exponential backoff (and the platform's Retry-After);
window refusals are held until the citizen writes again; other refusals are marked failed with the
platform's code (the staff console lists failed and held messages). The reply is decoded from its row
once and handed to the connector with its `Target` (the citizen and what the window policy decided).
The platform message ids are recorded, which is also how Zalo echoes of our own sends are recognised.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, or_, select, update

from bot.db import autocommit, in_states, transaction, utcnow
from bot.messages import Reply
from bot.models import Conversation, OutboxMessage
from bot.pipeline.store import WorkQueue
from bot.services import Services
from connectors.base import Connector, SendError, Target, http_session
from connectors.http import PlatformSession
from connectors.window import decide

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(seconds=60)
MAX_SEND_ATTEMPTS = 8
BACKOFF_BASE = 2.0  # seconds; 2, 4, 8 ... capped
BACKOFF_CAP = 600.0
OB = OutboxMessage
UNSENT = ("pending", "sending")  # the rows of ix_outbox_message_queue
_NOW = bindparam("now")
_QUEUE = WorkQueue(
    OB,
    unfinished=(select(OB.id, OB.conversation_id, OB.channel, OB.status, OB.next_attempt_at)
                .where(in_states(OB.status, UNSENT))),
    free=or_(
        and_(OB.status == "pending", OB.next_attempt_at <= _NOW),
        and_(OB.status == "sending", OB.next_attempt_at < _NOW),  # a crashed dispatcher's expired lease
    ),
    take={"status": "sending", "attempts": OB.attempts + 1, "next_attempt_at": bindparam("lease_until")},
    returning=(OB.id, OB.attempts),
    group=lambda row: row.conversation_id,
)


@dataclass(frozen=True)
class Item:
    """What sending an outbox row needs of it (read with the claim; no ORM object per send)."""

    id: int
    channel: str
    user_id: str
    reply: dict[str, Any]
    purpose: str


@dataclass(frozen=True)
class Claim:
    """A claimed outbox item; the claim round also loads the items and their window facts in one query."""

    id: int
    attempts: int
    item: Item | None = field(default=None, compare=False)  # None: read it in send_one()
    last_inbound_at: datetime | None = None
    last_message_id: str | None = None


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with jitter; a platform's Retry-After wins when it asks for longer."""
    delay = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP) * (0.75 + random.random() / 2)
    return timedelta(seconds=max(delay, retry_after or 0.0))


def claim_outbox(services: Services, channels: list[str], limit: int = 8,
                 now: datetime | None = None) -> list[Claim]:
    """Claim the oldest unsent item of up to `limit` conversations, when it is due."""
    now = now or utcnow()

    def ready(row: Any) -> bool:  # the queue's `free`, on a row already read
        if row.channel not in channels:
            return False
        return bool(row.next_attempt_at <= now if row.status == "pending" else row.next_attempt_at < now)

    with autocommit(services.sessions) as connection:
        _, taken = _QUEUE.claim(connection, {"now": now, "lease_until": now + SEND_LEASE}, ready, limit)
        if not taken:
            return []
        loaded = _load_items(connection, [item_id for item_id, _ in taken])
    return [Claim(item_id, attempts, *loaded[item_id]) if item_id in loaded else Claim(item_id, attempts)
            for item_id, attempts in sorted(taken)]


# Outbox items with the conversation facts the window policy needs, in one query.
_ITEMS = (select(OB.id, OB.channel, OB.user_id, OB.reply, OB.purpose, Conversation.last_inbound_at,
                 Conversation.last_inbound_message_id)
          .join(Conversation, Conversation.id == OB.conversation_id)
          .where(OB.id.in_(bindparam("ids", expanding=True))))


def _load_items(connection: Connection,
                ids: list[int]) -> dict[int, tuple[Item, datetime | None, str | None]]:
    """The items and their window facts."""
    return {row[0]: (Item(*row[:5]), row[5], row[6]) for row in connection.execute(_ITEMS, {"ids": ids})}


def _finish(services: Services, claim: Claim, **values: object) -> bool:
    with autocommit(services.sessions) as connection:  # one statement
        return bool(connection.execute(_finish_statement(tuple(sorted(values))),
                                       _finish_params(claim, values)).rowcount)


def _finish_round(services: Services, outcomes: list[tuple[Claim, dict[str, object]]]) -> None:
    """The round's outcomes in one transaction: one UPDATE per combination of columns set (executemany).
    On SQLite that is one wait for the writer lock per round instead of one per item."""
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for claim, values in outcomes:
        groups.setdefault(tuple(sorted(values)), []).append(_finish_params(claim, values))
    if groups:
        with transaction(services.sessions) as session:
            connection = session.connection()
            for names, params in groups.items():
                connection.execute(_finish_statement(names), params)


def _finish_params(claim: Claim, values: dict[str, object]) -> dict[str, object]:
    params: dict[str, object] = {"claimed_id": claim.id, "claimed_attempts": claim.attempts}
    params.update({f"new_{name}": value for name, value in values.items()})
    return params


@lru_cache(maxsize=16)
def _finish_statement(names: tuple[str, ...]) -> Update:
    """UPDATE of a claimed item still ours, setting `names`; built once per combination (a handful)."""
    table = OutboxMessage.__table__
    return (update(table)
            .where(table.c.id == bindparam("claimed_id"), table.c.attempts == bindparam("claimed_attempts"),
                   table.c.status == "sending")
            .values({name: bindparam(f"new_{name}") for name in names}))


def send_one(services: Services, connectors: dict[str, Connector], claim: Claim,
             http: PlatformSession) -> str:
    """Send one claimed item; returns its new status (sent | held | pending | failed)."""
    status, values = _attempt(services, connectors, claim, http)
    _finish(services, claim, **values)
    return status


def _attempt(services: Services, connectors: dict[str, Connector], claim: Claim,
             http: PlatformSession) -> tuple[str, dict[str, object]]:
    """Send one claimed item (no database write): its new status and the columns to set."""
    item, last_inbound_at, last_message_id = claim.item, claim.last_inbound_at, claim.last_message_id
    if item is None:
        with autocommit(services.sessions) as connection:  # the item and its window facts in one query
            item, last_inbound_at, last_message_id = _load_items(connection, [claim.id])[claim.id]
    now = utcnow()
    reply = Reply.from_dict(item.reply)
    decision = decide(
        item.channel, purpose=item.purpose, author=reply.author, last_inbound_at=last_inbound_at,
        last_inbound_message_id=last_message_id, now=now,
        zalo_transaction=services.settings.zalo_transaction_messages,
    )
    if not decision.allowed:
        log.info("outbox %s held: %s", claim.id, decision.reason)
        return "held", {"status": "held", "error": decision.reason}
    target = Target(item.user_id, decision.mode, decision.message_id, decision.tag, ref=str(item.id))
    try:
        platform_ids = connectors[item.channel].send(reply, target, http)
    except SendError as exc:
        return _send_failed(claim, exc)
    except Exception as exc:  # a bug or an unexpected answer: retried like a transient error, then failed
        log.exception("outbox %s: unexpected error while sending", claim.id)
        return _send_failed(claim, SendError("transient", exc.__class__.__name__, str(exc)))
    platform_id = ",".join(i for i in platform_ids if i)
    log.info("outbox %s sent on %s (%s)", claim.id, item.channel, decision.mode)
    return "sent", {"status": "sent", "platform_message_id": platform_id[:200] or None, "sent_at": utcnow(),
                    "error": None}


def _send_failed(claim: Claim, exc: SendError) -> tuple[str, dict[str, object]]:
    if exc.kind == "window":
        # The platform says the window is closed: keep it for when the citizen writes again.
        log.info("outbox %s held by the platform (%s)", claim.id, exc.code)
        return "held", {"status": "held", "error": str(exc)}
    if exc.kind == "transient" and claim.attempts < MAX_SEND_ATTEMPTS:
        log.warning("outbox %s attempt %s: %s, retrying", claim.id, claim.attempts, exc.code)
        return "pending", {"status": "pending", "error": str(exc),
                           "next_attempt_at": utcnow() + backoff(claim.attempts, exc.retry_after)}
    log.error("outbox %s failed permanently: %s %s", claim.id, exc.kind, exc.code)
    return "failed", {"status": "failed", "error": str(exc)}


def dispatch_once(services: Services, connectors: dict[str, Connector], http: PlatformSession,
                  limit: int = 8) -> int:
    """Claim and send one round, then record the outcomes together; returns how many items were claimed.

    A crash between a send and the round's record re-sends that item after its lease (as a crash between a
    send and its own record always did); Zalo echoes of the round's sends wait while the items are
    "sending" (bot.pipeline.worker)."""
    claims = claim_outbox(services, list(connectors), limit)
    if len(claims) > 1:  # one item per conversation: sending them at once never reorders a conversation
        outcomes = list(_SENDERS.map(lambda claim: _attempt(services, connectors, claim, http), claims))
    else:
        outcomes = [_attempt(services, connectors, claim, http) for claim in claims]
    _finish_round(services, [(claim, values) for claim, (_, values) in zip(claims, outcomes, strict=True)])
    return len(claims)


# A round's sends run at once: a platform's API answers in tens to hundreds of milliseconds, and one at a
# time a dispatcher sent at most a few replies a second (a burst of replies waited in line).
# (An executor starts its threads on first use.)
SEND_THREADS = 4
_SENDERS = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="motcua-send")


def drain(services: Services, connectors: dict[str, Connector], http: PlatformSession | None = None,
          rounds: int = 1000) -> int:
    """Send until nothing is due (console chat, tests)."""
    http = http or http_session()
    total = 0
    for _ in range(rounds):
        sent = dispatch_once(services, connectors, http)
        if not sent:
            break
        total += sent
    return total
