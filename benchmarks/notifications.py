"""A simulated month of dossier status changes: which channel told the citizen, how fast, and duplicates.

    .venv/bin/python benchmarks/notifications.py [--dossiers 200] [--seed 7] [--database-url URL]

Replays a month's status changes (received -> processing on day 1, result_ready on day 6, returned on day 9
for each dossier; the citizen's last message ages with them unless they wrote again meanwhile) at
speed against the local stand-ins of Zalo OA, Messenger, ZNS and eSMS, with the notification sender and
the outbox dispatcher running as the embedded pipeline runs them (one thread each). The citizens are mixed
as a commune centre's would be: Zalo, Messenger and web-chat conversations whose last message is hours to
weeks old; their choices at submission (chat, Zalo by phone, SMS, none); some phones without Zalo; and the
gateways fail now and then (ZNS and eSMS answering 503). Prints notifications per status change by channel,
the share that reached the citizen within 1 minute of the change where a channel exists (target >= 99 %),
and duplicates, i.e. sends of one notification accepted more than once by the platforms (target 0).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.agency import local_today  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import transaction, upgrade, utcnow  # noqa: E402
from bot.dossier_workflow import change_status  # noqa: E402
from bot.models import Conversation, Dossier, Notification  # noqa: E402
from bot.notify import sender  # noqa: E402
from bot.notify.preference import choose  # noqa: E402
from bot.pipeline import dispatcher  # noqa: E402
from bot.services import Services  # noqa: E402
from connectors import build_connectors  # noqa: E402
from connectors.base import http_session  # noqa: E402
from tests.channels.standins import GraphStandIn, ZaloStandIn  # noqa: E402
from tests.notify.conftest import ZALO_APP_ID, notify_settings  # noqa: E402
from tests.notify.standins import EsmsStandIn, ZnsStandIn  # noqa: E402

PATH = ("processing", "result_ready", "returned")
# channel -> (share of citizens, choices with their weights)
CITIZENS = {
    "zalo": (0.45, {"zalo": 55, "chat": 20, "sms": 10, "none": 5, None: 10}),
    "facebook": (0.15, {"sms": 40, "zalo": 30, "chat": 20, None: 10}),
    "web": (0.40, {"sms": 45, "zalo": 35, "chat": 10, "none": 5, None: 5}),
}
NOT_ON_ZALO = 0.12  # phones without a Zalo account: ZNS refuses them for good
GATEWAY_503 = 0.03  # share of ZNS and eSMS calls answered 503 (temporary)
REACH = timedelta(minutes=1)
# Days after submission each status comes (the citizen's last message ages with it), and the chance that
# the citizen wrote again meanwhile (asked about the dossier), which reopens the chat window.
DAYS = {"processing": 1, "result_ready": 6, "returned": 9}
WROTE_AGAIN = 0.25


def _last_message_age(rng: random.Random) -> timedelta:
    """How long before submitting the dossier the citizen last wrote: mostly minutes, sometimes days."""
    return timedelta(hours=rng.choice((0, 0, 0, 1, 1, 6, 20, 48)))


def _populate(services: Services, n: int, rng: random.Random, zns: ZnsStandIn) -> list[int]:
    now = utcnow()
    ids = []
    with transaction(services.sessions) as session:
        for i in range(n):
            channel = rng.choices(list(CITIZENS), [share for share, _ in CITIZENS.values()])[0]
            choices = CITIZENS[channel][1]
            choice = rng.choices(list(choices), list(choices.values()))[0]
            phone = f"+849{i:08d}"
            if rng.random() < NOT_ON_ZALO:
                zns.not_on_zalo.add("84" + phone[3:])
            conv = Conversation(channel=channel, user_id=f"{channel}-{i}", state={}, profile={},
                                last_inbound_at=now - _last_message_age(rng), last_inbound_message_id=f"m{i}")
            session.add(conv)
            session.flush()
            if choice:
                choose(session, conv, choice, now)
            dossier = Dossier(code=f"000.00.12.H62-261201-{i:04d}", procedure_code="1.001193",
                              procedure_name="Đăng ký khai sinh", conversation_id=conv.id, channel=channel,
                              user_id=conv.user_id, applicant={}, phone=phone, status="received",
                              appointment_date=local_today() + timedelta(days=5))
            session.add(dossier)
            session.flush()
            ids.append(dossier.id)
    return ids


def _pipeline(services: Services, stop: threading.Event) -> list[threading.Thread]:
    connectors = build_connectors(services, quiet=True)

    def notify() -> None:
        http, one = http_session(), sender.Sender(services)
        while not stop.is_set():
            if not sender.dispatch_once(services, http, one):
                time.sleep(0.05)

    def outbox() -> None:
        http = http_session()
        while not stop.is_set():
            if not dispatcher.dispatch_once(services, connectors, http):
                time.sleep(0.05)

    threads = [threading.Thread(target=f, daemon=True) for f in (notify, outbox)]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    zalo = ZaloStandIn(app_id=ZALO_APP_ID).start()
    graph, esms = GraphStandIn().start(), EsmsStandIn(balance=10**6).start()
    zns = ZnsStandIn(zalo=zalo, quota=10**6).start()
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings.load(database_url=args.database_url or f"sqlite:///{tmp}/bench.sqlite3",
                             files_dir=Path(tmp) / "files", secret_key="bench", embedded_workers=False)
        services = Services.build(notify_settings(base, zalo, graph, zns, esms))  # type: ignore[arg-type]
        upgrade(services.engine)
        ids = _populate(services, args.dossiers, rng, zns)
        ages = {dossier_id: _last_message_age(rng) for dossier_id in ids}
        stop = threading.Event()
        threads = _pipeline(services, stop)
        changed: dict[int, float] = {}  # notification id -> when its status change committed (monotonic)
        started = time.monotonic()
        for status in PATH:
            for dossier_id in ids:
                if rng.random() < GATEWAY_503:
                    zns.fail_next.append(("http", 503))
                if rng.random() < GATEWAY_503:
                    esms.fail_next.append(("http", 503))
                with transaction(services.sessions) as session:
                    dossier = session.get(Dossier, dossier_id)
                    assert dossier is not None
                    conversation = session.get(Conversation, dossier.conversation_id)
                    assert conversation is not None
                    wrote = (timedelta(hours=rng.choice((2, 12, 30))) if rng.random() < WROTE_AGAIN
                             else ages[dossier_id] + timedelta(days=DAYS[status]))
                    conversation.last_inbound_at = utcnow() - wrote
                    change_status(session, dossier, status, None, "staff:bench", utcnow())
                    session.flush()
                    newest = session.scalar(select(Notification.id)
                                            .where(Notification.dossier_id == dossier_id)
                                            .order_by(Notification.id.desc()))
                changed[int(newest)] = time.time()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with services.sessions() as session:
                open_rows = session.scalar(select(Notification.id).where(
                    Notification.state.in_(("pending", "sending"))).limit(1))
            if open_rows is None:
                break
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(5)
        with services.sessions() as session:
            rows = list(session.scalars(select(Notification)))
        elapsed = time.monotonic() - started
    for server in (zalo, graph, zns, esms):
        server.stop()
    _report(rows, changed, zns, esms, zalo, graph, elapsed)


def _report(rows: list[Notification], changed: dict[int, float], zns: ZnsStandIn, esms: EsmsStandIn,
            zalo: ZaloStandIn, graph: GraphStandIn, elapsed: float) -> None:
    by = Counter((r.dossier_status, r.channel if r.state in ("sent", "delivered") else r.state) for r in rows)
    channels = ("chat", "zns", "sms", "failed", "none", "pending")
    print(f"{len(rows)} status changes, {len({r.dossier_id for r in rows})} dossiers, {elapsed:.1f} s")
    print(f"{'status':<14}" + "".join(f"{c:>9}" for c in channels))
    for status in PATH:
        print(f"{status:<14}" + "".join(f"{by[(status, c)]:>9}" for c in channels))
    total = Counter(r.channel if r.state in ("sent", "delivered") else r.state for r in rows)
    print(f"{'all':<14}" + "".join(f"{total[c]:>9}" for c in channels))
    with_channel = [r for r in rows if r.state != "none"]
    in_time = [r for r in with_channel if r.sent_at is not None
               and r.sent_at.timestamp() - changed.get(r.id, r.sent_at.timestamp()) <= REACH.total_seconds()]
    latencies = sorted(r.sent_at.timestamp() - changed[r.id] for r in with_channel
                       if r.sent_at is not None and r.id in changed)
    share = 100 * len(in_time) / max(len(with_channel), 1)
    print(f"reached within 1 min where a channel exists: {len(in_time)}/{len(with_channel)} = {share:.2f} % "
          "(target >= 99 %)")
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"time to reach: p50 {p50:.2f} s, p99 {p99:.2f} s, max {latencies[-1]:.2f} s")
    fallbacks = sum(1 for r in rows if sum(1 for t in r.tries if t.get("result") == "failed") and
                    r.state == "sent")
    retries = sum(1 for r in rows for t in r.tries if t.get("result") == "retry")
    print(f"fell back to another channel: {fallbacks}; temporary errors retried: {retries}")
    sent_ids = Counter([c.json["tracking_id"] for c in zns.sends()]
                       + [c.json["RequestId"] for c in esms.sends()])
    notices = {r.text for r in rows}  # the chat also carries other messages (the satisfaction question)
    chat = Counter(text for c in [*zalo.sends(), *graph.sends()]
                   if (text := c.json["message"].get("text")) in notices)
    duplicates = sum(n - 1 for n in sent_ids.values() if n > 1) + sum(n - 1 for n in chat.values() if n > 1)
    print(f"duplicates: {duplicates} (target 0); ZNS sent {len(zns.sends())}, SMS sent {len(esms.sends())}, "
          f"chat sent {sum(chat.values())}")


if __name__ == "__main__":
    main()
