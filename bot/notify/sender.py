"""Send the notifications that are due, outside any database transaction, one channel after another.

Like the outbox dispatcher: a notification is claimed with one compare-and-set UPDATE (state `sending`, a
lease), sent with no transaction open, and finished with one UPDATE that only applies while the claim is
still ours, so two dispatchers never send the same notification and a crashed one's lease expires.
Temporary errors (network, 5xx, Zalo's own errors, the gateway down) are retried with backoff on the same
channel; permanent ones (phone not on Zalo, template not approved, quota, invalid number) move to the next
channel. The ZNS `tracking_id` and the eSMS `RequestId` are derived from the notification id, so a retry
after an unknown outcome names the same message to the platform.
The chat channel is the outbox: the notification follows its outbox item and falls back when the platform
held or refused it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from bot.db import autocommit, in_states, utcnow
from bot.models import Dossier, Notification, OutboxMessage
from bot.notify import content
from bot.notify.channels import enabled
from bot.pipeline.dispatcher import backoff
from bot.services import Services
from connectors.base import SendError, http_session
from connectors.http import PlatformSession
from connectors.sms import provider
from connectors.zns import ZnsClient, phone_84

log = logging.getLogger(__name__)

N = Notification
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 6  # per channel, then the next channel
CHAT_POLL = timedelta(seconds=2)  # how often a notification looks at its outbox item again


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int
    channel: str | None
    channels: list[str]
    fields: dict[str, str]
    dossier_status: str
    outbox_id: int | None
    phone: str | None
    tries: list[dict[str, Any]] = field(default_factory=list)


def tracking_id(notification_id: int) -> str:
    """Our id of a notification on the platforms: the same on every retry and every channel."""
    return f"motcua-n{notification_id}"


def claim(services: Services, now: datetime, limit: int = 8) -> list[Claim]:
    """Claim up to `limit` due notifications (pending and due, or a crashed sender's expired lease)."""
    due = or_(and_(N.state == "pending", N.next_attempt_at <= now),
              and_(N.state == "sending", N.next_attempt_at < now))
    claimed: list[tuple[int, int]] = []
    with autocommit(services.sessions) as connection:
        rows = connection.execute(select(N.id, N.state, N.attempts)
                                  .where(in_states(N.state, ("pending", "sending")), due)
                                  .order_by(N.id).limit(limit)).all()
        for row in rows:
            taken = connection.execute(
                update(N).where(N.id == row.id, N.state == row.state, N.attempts == row.attempts)
                .values(state="sending", attempts=row.attempts + 1, next_attempt_at=now + LEASE))
            if taken.rowcount == 1:
                claimed.append((row.id, row.attempts + 1))
        if not claimed:
            return []
        loaded = {r.id: r for r in connection.execute(
            select(N.id, N.channel, N.channels, N.fields, N.dossier_status, N.outbox_id, N.tries,
                   Dossier.phone)
            .join(Dossier, Dossier.id == N.dossier_id).where(N.id.in_([i for i, _ in claimed])))}
    return [Claim(i, attempts, r.channel, list(r.channels or []), dict(r.fields or {}), r.dossier_status,
                  r.outbox_id, r.phone, list(r.tries or []))
            for i, attempts in claimed if (r := loaded.get(i)) is not None]


def _finish(services: Services, one: Claim, **values: Any) -> bool:
    with autocommit(services.sessions) as connection:
        return bool(connection.execute(
            update(N).where(N.id == one.id, N.attempts == one.attempts, N.state == "sending").values(**values)
        ).rowcount)


class Sender:
    """The clients of the push channels that are on, built once per dispatcher thread."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.on = enabled(services.settings)
        self.zns = ZnsClient(services) if "zns" in self.on else None
        self.sms = provider(services) if "sms" in self.on else None

    def send(self, one: Claim, http: PlatformSession) -> str:
        """Try the claimed notification on its current channel; returns its new state."""
        now = utcnow()
        if one.channel == "chat":
            return self._follow_outbox(one, now)
        try:
            platform_id = self._push(one, http)
        except SendError as exc:
            return self._failed(one, exc, now)
        except Exception as exc:  # a bug or an unexpected answer: retried like a temporary error
            log.exception("notification %s: unexpected error on %s", one.id, one.channel)
            return self._failed(one, SendError("transient", exc.__class__.__name__, str(exc)), now)
        tries = [*one.tries, {"channel": one.channel, "result": "sent", "at": now.isoformat()}]
        _finish(self.services, one, state="sent", sent_at=now, platform_id=platform_id[:200] or None,
                error=None, tries=tries)
        log.info("notification %s sent by %s", one.id, one.channel)
        return "sent"

    def _push(self, one: Claim, http: PlatformSession) -> str:
        settings = self.services.settings
        if one.channel == "zns":
            phone = phone_84(one.phone)
            if self.zns is None:
                raise SendError("permanent", "off", "ZNS is not configured")
            if phone is None:
                raise SendError("permanent", "phone", "no Vietnamese mobile number")
            template = content.zns_template(one.dossier_status, settings.zalo_zns_template_id)
            return self.zns.send(phone, template, content.zns_data(one.fields), tracking_id(one.id), http)
        if one.channel == "sms":
            if self.sms is None:
                raise SendError("permanent", "off", "SMS is not configured")
            if not one.phone:
                raise SendError("permanent", "phone", "no phone number")
            body = content.sms_text(one.fields, settings.sms_unicode)
            return self.sms.send(one.phone, body, tracking_id(one.id), http)
        raise SendError("permanent", "channel", f"unknown channel {one.channel}")

    def _follow_outbox(self, one: Claim, now: datetime) -> str:
        with autocommit(self.services.sessions) as connection:
            item = connection.execute(select(OutboxMessage.status, OutboxMessage.sent_at,
                                             OutboxMessage.platform_message_id, OutboxMessage.error)
                                      .where(OutboxMessage.id == one.outbox_id)).first()
        if item is not None and item.status == "sent":
            tries = [*one.tries, {"channel": "chat", "result": "sent", "at": now.isoformat()}]
            _finish(self.services, one, state="sent", sent_at=item.sent_at or now, error=None, tries=tries,
                    platform_id=(item.platform_message_id or "")[:200] or None)
            return "sent"
        if item is not None and item.status in ("pending", "sending"):
            _finish(self.services, one, state="pending", next_attempt_at=now + CHAT_POLL, attempts=0)
            return "pending"
        reason = SendError("permanent", item.status if item else "gone", (item.error or "") if item else "")
        return self._next_channel(one, reason, now)

    def _failed(self, one: Claim, exc: SendError, now: datetime) -> str:
        if exc.kind in ("transient", "auth") and one.attempts < MAX_ATTEMPTS:
            tries = [*one.tries, {"channel": one.channel, "result": "retry", "error": str(exc)[:300],
                                  "at": now.isoformat()}]
            _finish(self.services, one, state="pending", error=str(exc)[:500], tries=tries,
                    next_attempt_at=now + backoff(one.attempts, exc.retry_after))
            log.warning("notification %s on %s: %s %s, retrying", one.id, one.channel, exc.kind, exc.code)
            return "pending"
        return self._next_channel(one, exc, now)

    def _next_channel(self, one: Claim, exc: SendError, now: datetime) -> str:
        rest = one.channels[1:]
        tries = [*one.tries, {"channel": one.channel, "result": "failed", "error": str(exc)[:300],
                              "at": now.isoformat()}]
        state = "pending" if rest else "failed"
        _finish(self.services, one, state=state, channels=rest, channel=rest[0] if rest else one.channel,
                attempts=0, next_attempt_at=now, error=str(exc)[:500], tries=tries)
        log.warning("notification %s: %s refused (%s %s), %s", one.id, one.channel, exc.kind, exc.code,
                    f"next {rest[0]}" if rest else "no channel left")
        return state


def dispatch_once(services: Services, http: PlatformSession, sender: Sender | None = None,
                  limit: int = 8) -> int:
    """Claim and send one round; returns how many notifications were claimed."""
    sender = sender or Sender(services)
    claims = claim(services, utcnow(), limit)
    for one in claims:
        sender.send(one, http)
    return len(claims)


def drain(services: Services, http: PlatformSession | None = None, rounds: int = 200) -> int:
    """Send until nothing is due now (tests, the console)."""
    http = http or http_session()
    sender = Sender(services)
    total = 0
    for _ in range(rounds):
        done = dispatch_once(services, http, sender)
        if not done:
            break
        total += done
    return total
