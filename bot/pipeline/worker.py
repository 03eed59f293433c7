"""Event processing: stored events -> turns, in order within a conversation, in parallel across them.

A worker claims the oldest unfinished event of a conversation (never a later one while an earlier one is
unfinished), under a lease with an expiry. The turn, the transcript, the outbox and the event's `done` mark
commit in one transaction, fenced by the claim's attempt number: if a crashed worker's lease expired and
another worker re-claimed the event, the late commit matches no row and rolls back. So after a crash the
event is processed again from scratch, and never twice. The events a worker claimed together (one per
conversation) share that transaction; if one of them fails, each is redone alone.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, tuple_, update
from sqlalchemy.orm import Session

from bot import handoff as owner
from bot.db import autocommit, in_states, transaction, utcnow
from bot.messages import Inbound
from bot.models import Conversation, InboundEvent, Message, OutboxMessage
from bot.pipeline.deadletter import dead_letter
from bot.pipeline.receipts import apply_receipt
from bot.pipeline.spool import import_spool
from bot.pipeline.store import OUTBOX, WorkQueue, is_postgres, keyed_update, lists_id
from bot.services import Services
from bot.transcript import conversation_for, record_inbound, round_of_turns
from bot.turn import NEW_CONVERSATION, RERUNS, conversation_states, plan, run_turn
from connectors.base import Connector
from connectors.http import PlatformSession
from flows.turn import Needs, Network, NetworkNeeded
from nlu.client import NLUUnavailable

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
ECHO_WAIT = timedelta(seconds=2)  # a Zalo echo can arrive before our send call has returned its id
ECHO_TRIES = 5
# A message that needs the NLU while its server is starting or briefly unreachable waits this long (retried
# every NLU_RETRY) before the degraded "busy" answer: after `make run` the first citizens get real answers.
NLU_PATIENCE = timedelta(seconds=60)
NLU_RETRY = timedelta(seconds=1)
E = InboundEvent


# The statements every event runs, built once (see bot/transcript.py). "Ours": nobody re-claimed the
# event after our lease expired.
_EVENT, _OUTBOX = InboundEvent.__table__, OutboxMessage.__table__
_OURS = (_EVENT.c.id == bindparam("claimed_id"), _EVENT.c.attempts == bindparam("claimed_attempts"),
         _EVENT.c.status == "processing")
_EXTEND = update(_EVENT).where(*_OURS).values(locked_until=bindparam("lease_until"))
_FINISH = update(_EVENT).where(*_OURS).values(status=bindparam("final_status"), locked_until=None,
                                               processed_at=bindparam("finished_at"), error=None)
# The round's events still ours, in one statement built once: (id, attempts) pairs.
_FINISH_ROUND = (update(_EVENT)
                 .where(tuple_(_EVENT.c.id, _EVENT.c.attempts).in_(bindparam("claims", expanding=True)),
                        _EVENT.c.status == "processing")
                 .values(status=bindparam("final_status"), locked_until=None,
                         processed_at=bindparam("finished_at"), error=None))
_DEFER = update(_EVENT).where(*_OURS).values(status="pending", locked_until=bindparam("lease_until"))
# Waiting for the NLU is not a failed attempt: the claim's attempt is given back.
_WAIT_NLU = update(_EVENT).where(*_OURS).values(status="pending", locked_until=bindparam("lease_until"),
                                                attempts=_EVENT.c.attempts - 1)
_CITIZEN = tuple_(_OUTBOX.c.channel, _OUTBOX.c.user_id)
_RELEASE_HELD = (update(_OUTBOX)
                 .where(_OUTBOX.c.status == "held", _CITIZEN.in_(bindparam("citizens", expanding=True)))
                 .values(status="pending", next_attempt_at=bindparam("release_at"), error=None))


class LostClaim(RuntimeError):
    """Our lease expired and another worker took the event over: roll back, do nothing."""


@dataclass(frozen=True)
class Claim:
    """A claimed event; the claim's UPDATE ... RETURNING also brings the event's data (no second read)."""

    id: int
    attempts: int
    kind: str | None = None  # None: not loaded with the claim, read it in process()
    channel: str = ""
    user_id: str = ""
    inbound: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None
    mode: str | None = None  # the conversation's mode at claim time (None: no conversation yet)
    received_at: datetime | None = None  # when the webhook stored it (how long it may wait for the NLU)


OPEN = ("pending", "processing")  # unfinished: the rows of ix_inbound_event_queue
_NOW = bindparam("now")
_QUEUE = WorkQueue(
    E,
    # The conversation's mode comes along (typing indicator) so process() need not read it again.
    unfinished=(select(E.id, E.channel, E.user_id, E.status, E.locked_until, Conversation.mode)
                .outerjoin(Conversation, and_(Conversation.channel == E.channel,
                                              Conversation.user_id == E.user_id))
                .where(in_states(E.status, OPEN))),
    free=or_(
        and_(E.status == "pending", or_(E.locked_until.is_(None), E.locked_until <= _NOW)),
        and_(E.status == "processing", E.locked_until < _NOW),  # a crashed worker's expired lease
    ),
    take={"status": "processing", "attempts": E.attempts + 1, "locked_until": bindparam("lease_until")},
    returning=(E.id, E.attempts, E.kind, E.channel, E.user_id, E.inbound, E.detail, E.received_at),
    group=lambda row: (row.channel, row.user_id),
)


def claim_events(services: Services, limit: int = 4, now: datetime | None = None,
                 channels: list[str] | None = None) -> list[Claim]:
    """Claim the head event of up to `limit` conversations whose head is free to take."""
    now = now or utcnow()

    def ready(row: Any) -> bool:  # the queue's `free`, on a row already read
        if channels is not None and row.channel not in channels:
            return False
        if row.status == "pending":
            return row.locked_until is None or row.locked_until <= now
        return row.locked_until is not None and row.locked_until < now

    with autocommit(services.sessions) as connection:
        heads, taken = _QUEUE.claim(connection, {"now": now, "lease_until": now + LEASE}, ready, limit)
    modes = {row.id: row.mode for row in heads}
    return [Claim(*row[:7], mode=modes.get(row[0]), received_at=row[7])
            for row in sorted(taken, key=lambda row: row[0])]


@dataclass(frozen=True)
class Prepared:
    """A claimed event ready for its transaction: parsed, and what its turn needs from the network fetched."""

    claim: Claim
    kind: str
    inbound: Inbound | None
    detail: dict[str, Any]
    services: Services
    network: Network | None = None  # the turn's NLU parse and downloads (flows.turn), fetched before


def process(services: Services, claim: Claim, connectors: dict[str, Connector] | None = None,
            http: PlatformSession | None = None) -> str:
    """Process one claimed event; returns its final status (done | ignored | pending | failed | lost).

    `failed`: a dead letter (bot/pipeline/deadletter.py), the conversation goes on without it."""
    return process_round(services, [claim], connectors, http)[0]


def process_round(services: Services, claims: list[Claim], connectors: dict[str, Connector] | None = None,
                  http: PlatformSession | None = None) -> list[str]:
    """Process a round of claimed events (one per conversation) in one transaction: one commit for all.

    If any of them raises or was taken over by another worker, the round rolls back and each event is
    processed again in a transaction of its own, so a bad event costs only itself.
    """
    return run_round(services, begin_round(services, claims, connectors, http, wait=True), connectors, http)


@dataclass
class Round:
    """A claimed round whose turns are planned and whose network reads are under way (or done)."""

    claims: list[Claim]
    prepared: list[Prepared]
    fetching: Future[Any] | None = None  # the network reads, when they run in the background

    @property
    def ready(self) -> bool:
        return self.fetching is None or self.fetching.done()


def begin_round(services: Services, claims: list[Claim], connectors: dict[str, Connector] | None,
                http: PlatformSession | None, *, wait: bool) -> Round:
    """Plan the round's turns (no network call) and fetch what they need: at once with `wait`, else in the
    background, so the caller can run another round's transaction meanwhile (`Processor`)."""
    if any(claim.attempts > MAX_ATTEMPTS for claim in claims):
        return Round(claims, [])  # run_round dead-letters the stuck ones and runs the others alone
    # the conversations' states for the turns' read-ahead, one query for the round
    turns = [(c.channel, c.user_id) for c in claims if c.kind == "message" and c.mode in (None, "bot")]
    read = conversation_states(services, turns)
    states = {citizen: read.get(citizen, NEW_CONVERSATION) for citizen in turns}  # none yet: a new one
    planned = [_prepare(services, claim, connectors, states) for claim in claims]
    jobs = [job for _, job in planned if job is not None]
    fetching = None
    if wait or not jobs:
        _fetch(jobs, http)
    else:
        fetching = _FETCHER.submit(_fetch, jobs, http)
    return Round(claims, [one for one, _ in planned], fetching)


def run_round(services: Services, round_: Round, connectors: dict[str, Connector] | None = None,
              http: PlatformSession | None = None) -> list[str]:
    """The round's transaction, once its network reads are in (see `process_round`)."""
    claims, prepared = round_.claims, round_.prepared
    if any(claim.attempts > MAX_ATTEMPTS for claim in claims):  # stuck ones are dead letters, not run again
        return [_expired(services, claim) if claim.attempts > MAX_ATTEMPTS
                else process(services, claim, connectors, http) for claim in claims]
    if round_.fetching is not None:
        round_.fetching.result()  # the reads keep their failures for the turn (flows.turn.Network)
    if len(prepared) > 1:
        now = utcnow()
        try:
            with transaction(services.sessions) as session:
                statuses = _run(session, prepared, now)
        except Exception as exc:
            log.info("round of %d events rolled back (%s): one by one", len(prepared), exc.__class__.__name__)
        else:
            if "done" in statuses:
                OUTBOX.notify()
            return statuses
    return [_process_one(services, one) for one in prepared]


def _prepare(services: Services, claim: Claim, connectors: dict[str, Connector] | None,
             states: dict[tuple[str, str], tuple[str, dict[str, Any]]] | None = None,
             ) -> tuple[Prepared, Fetch | None]:
    """The event parsed and its turn planned (no network call): and what to fetch for it, if anything."""
    if claim.kind is None:
        with services.sessions() as session:
            event = session.get(E, claim.id)
            assert event is not None
            mode = session.scalar(select(Conversation.mode).where(
                Conversation.channel == event.channel, Conversation.user_id == event.user_id))
            claim = Claim(claim.id, claim.attempts, event.kind, event.channel, event.user_id, event.inbound,
                          event.detail, mode, event.received_at)
    kind = claim.kind or ""
    inbound = Inbound.from_dict(claim.inbound) if claim.inbound else None
    prepared = Prepared(claim, kind, inbound, dict(claim.detail or {}), services)
    if kind != "message" or inbound is None or claim.mode not in (None, "bot"):
        return prepared, None
    known = (states or {}).get((claim.channel, claim.user_id))  # None: plan() reads it
    network, needs = plan(services, inbound, utcnow(), conversation=known)
    connector = (connectors or {}).get(claim.channel)
    typing = connector is not None and connector.has_typing
    if not (typing or needs.parse or needs.downloads):
        network.closed = True
        return replace(prepared, network=network), None
    return replace(prepared, network=network), Fetch(network, needs, connector if typing else None,
                                                      claim.user_id)


@dataclass(frozen=True)
class Fetch:
    """One turn's network work before the round's transaction: the typing indicator (not while an officer
    owns the chat) and the NLU parse and downloads the turn will need."""

    network: Network
    needs: Needs
    typing: Connector | None
    user_id: str

    def __call__(self, http: PlatformSession | None) -> None:
        if self.typing is not None and http is not None:
            self.typing.typing(self.user_id, http)
        self.needs.fetch(self.network)
        self.network.closed = True


FETCH_THREADS = 4  # a round's NLU parses and downloads, at once: the NLU server takes several requests
# One more thread than FETCH_THREADS: a round's background _fetch runs in it and waits for its jobs. An
# executor starts its threads on first use, so a process that never fetches starts none.
_FETCHER = ThreadPoolExecutor(FETCH_THREADS + 1, thread_name_prefix="motcua-fetch")


def _fetch(jobs: list[Fetch], http: PlatformSession | None) -> None:
    """The round's network reads; several at once when more than one turn has some (one thread per process
    runs the rounds on SQLite, and a round of NLU questions should not wait for each parse in turn)."""
    if len(jobs) <= 1:
        for job in jobs:
            job(http)
        return
    list(_FETCHER.map(lambda job: job(http), jobs))  # keeps a connection per thread (bot.keepalive)


def _process_one(services: Services, one: Prepared) -> str:
    try:
        for _ in range(RERUNS):
            try:
                with transaction(services.sessions) as session:
                    [status] = _run(session, [one], utcnow())
                break
            except NetworkNeeded as need:  # rolled back: fetch outside the transaction, run again
                log.warning("event %s: ran again to fetch %s outside the transaction", one.claim.id, need)
                assert one.network is not None
                one.network.fetch_needed(need)
        else:
            raise RuntimeError("turn kept asking for network reads")
    except LostClaim:
        log.warning("event %s: lease lost to another worker, rolled back", one.claim.id)
        return "lost"
    except NLUUnavailable:
        return _wait_for_nlu(services, one.claim)
    except Exception as exc:
        return _failed(services, one.claim, exc)
    if status == "done":
        OUTBOX.notify()
    return status


def _run(session: Session, prepared: list[Prepared], now: datetime) -> list[str]:
    """The events inside the caller's transaction; marks them finished (or deferred) if still ours."""
    if not is_postgres(session):
        # SQLite: take the write lock first, so the turns' reads never meet a stale snapshot
        _fence(session, prepared[0].claim, now)
    with round_of_turns(session, [(one.claim.channel, one.claim.user_id) for one in prepared]):
        statuses = [_handle(session, one, now) for one in prepared]
    # The citizens who wrote: what was held for a closed window may go out now (one UPDATE for the round).
    release_held(session, [(one.claim.channel, one.claim.user_id) for one in prepared
                           if one.kind == "message" and one.inbound is not None], now)
    connection = session.connection()
    for status in set(statuses):
        claims = [one.claim for one, said in zip(prepared, statuses, strict=True) if said == status]
        if status == "pending":  # deferred (an echo waiting for its send id)
            marked = sum(connection.execute(_DEFER, {
                "claimed_id": claim.id, "claimed_attempts": claim.attempts, "lease_until": now + ECHO_WAIT,
            }).rowcount for claim in claims)
        elif len(claims) == 1:
            marked = connection.execute(_FINISH, {"claimed_id": claims[0].id,
                                                  "claimed_attempts": claims[0].attempts,
                                                  "final_status": status, "finished_at": now}).rowcount
        else:  # one UPDATE for the round
            marked = connection.execute(_FINISH_ROUND, {
                "claims": [(claim.id, claim.attempts) for claim in claims], "final_status": status,
                "finished_at": now}).rowcount
        # The fence that counts: the commit matches no row if another worker took an event over.
        if marked != len(claims):
            raise LostClaim(", ".join(str(claim.id) for claim in claims))
    return statuses


def _fence(session: Session, claim: Claim, now: datetime) -> None:
    """Extend our lease, only if the claim is still ours (and, on SQLite, take the write lock now)."""
    owned = session.connection().execute(_EXTEND, {"claimed_id": claim.id, "claimed_attempts": claim.attempts,
                                                   "lease_until": now + LEASE}).rowcount
    if not owned:
        raise LostClaim(claim.id)


# ---------------------------------------------------------------- what each kind of event does


def _message(session: Session, one: Prepared, now: datetime) -> str:
    if one.inbound is None:
        return "ignored"
    run_turn(session, one.services, one.inbound, now, network=one.network,
             wait_for_nlu=may_wait_for_nlu(one.claim, now))
    return "done"


def _standby(session: Session, one: Prepared, now: datetime) -> str:
    """A message while another app (Page Inbox) owns the thread: transcript only, the bot stays paused."""
    if one.inbound is None:
        return "ignored"
    transcript = record_inbound(session, one.inbound, now)
    transcript.write_inbound()
    _pause(transcript.conversation, "platform_owner", now)
    return "done"


def _staff(session: Session, one: Prepared, now: datetime) -> str:
    _staff_message(session, one.claim.channel, one.claim.user_id, one.detail, now)
    return "done"


def _control(session: Session, one: Prepared, now: datetime) -> str:
    """Messenger handover protocol: the Page Inbox took the thread, or passed it back to us."""
    conv = conversation_for(session, one.claim.channel, one.claim.user_id)
    if one.detail.get("action") == "pass_thread_control" and conv.mode == "paused":
        owner.unpause(conv)
    elif one.detail.get("action") == "take_thread_control":
        _pause(conv, "platform_owner", now)
    return "done"


def _receipt(session: Session, one: Prepared, now: datetime) -> str:
    applied = apply_receipt(session, one.claim.channel, one.claim.user_id, one.detail, now)
    return "done" if applied else "ignored"


def _acknowledge(session: Session, one: Prepared, now: datetime) -> str:
    """Our own Messenger echoes, unfollow, ignored kinds: acknowledged, nothing to do."""
    return "ignored"


def _zalo_echo(session: Session, one: Prepared, now: datetime) -> str:
    """An `oa_send_*` echo is ours if we recorded its id at send time; otherwise staff typed it."""
    channel, user_id, detail, claim = one.claim.channel, one.claim.user_id, one.detail, one.claim
    message_id = str(detail.get("message_id") or "")
    conv = conversation_for(session, channel, user_id)
    mine = OutboxMessage.conversation_id == conv.id
    if message_id:
        ours = session.scalars(
            select(OutboxMessage.id).where(mine, lists_id(OutboxMessage.platform_message_id, message_id))
        ).first()
        if ours is not None:
            return "ignored"
    sending = select(OutboxMessage.id).where(mine, OutboxMessage.status == "sending")
    in_flight = session.scalars(sending).first()
    if in_flight is not None and claim.attempts < ECHO_TRIES:
        return "pending"  # our send may not have returned its id yet: look again in 2 s
    _staff_message(session, channel, user_id, detail, now)
    return "done"


Handler = Callable[[Session, Prepared, datetime], str]
# {event kind: handler}; a (kind, channel) key overrides the kind's handler on one channel. A kind not
# listed is acknowledged and left alone.
HANDLERS: dict[str | tuple[str, str], Handler] = {
    "message": _message,
    "standby": _standby,
    "staff": _staff,
    "control": _control,
    "receipt": _receipt,
    ("echo", "zalo"): _zalo_echo,
}


def _handle(session: Session, one: Prepared, now: datetime) -> str:
    handler = HANDLERS.get((one.kind, one.claim.channel)) or HANDLERS.get(one.kind, _acknowledge)
    return handler(session, one, now)


def _staff_message(session: Session, channel: str, user_id: str, detail: dict[str, Any],
                   now: datetime) -> None:
    """A message an officer typed on the platform itself: into the transcript, and the bot steps back."""
    conv = conversation_for(session, channel, user_id)
    text = str(detail.get("text") or "")
    session.add(Message(conversation_id=conv.id, direction="out", author="staff", text=text,
                        body={"kind": "text", "text": text, "author": "staff", "via": "platform"},
                        created_at=now))
    _pause(conv, "staff_on_platform", now)
    log.info("conversation %s: staff wrote on the platform, bot paused", conv.id)


def _pause(conv: Any, reason: str, now: datetime) -> None:
    owner.pause(conv, reason, now)


def release_held(session: Session, citizens: list[tuple[str, str]], now: datetime) -> int:
    """These (channel, user id) wrote again: messages held for a closed window may go out now."""
    if not citizens:
        return 0
    return int(session.connection().execute(
        _RELEASE_HELD, {"citizens": citizens, "release_at": now}).rowcount or 0)


def may_wait_for_nlu(claim: Claim, now: datetime) -> bool:
    """Whether a turn that meets an unanswering NLU should be retried rather than answered "busy"."""
    return claim.received_at is not None and now - claim.received_at < NLU_PATIENCE


def _wait_for_nlu(services: Services, claim: Claim) -> str:
    """Put the event back for another try in NLU_RETRY; later events of the conversation wait behind it."""
    with transaction(services.sessions) as session:
        session.connection().execute(_WAIT_NLU, {"claimed_id": claim.id, "claimed_attempts": claim.attempts,
                                                 "lease_until": utcnow() + NLU_RETRY})
    log.info("event %s: NLU not answering yet, retried in %ss", claim.id, NLU_RETRY.seconds)
    return "pending"


def _failed(services: Services, claim: Claim, exc: Exception) -> str:
    """A turn that raised: retried with backoff, after MAX_ATTEMPTS a dead letter (bot/pipeline/deadletter).

    The log names the exception's class and where it was raised, not its message: a database error or a
    validator may quote the citizen's words.
    """
    now = utcnow()
    error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
    log.error("event %s attempt %s failed (%s)\n%s", claim.id, claim.attempts, exc.__class__.__name__, where)
    if claim.attempts >= MAX_ATTEMPTS:
        return "failed" if dead_letter(services, claim.id, claim.attempts, error, now) else "lost"
    delay = timedelta(seconds=min(2 ** claim.attempts, 60) * (0.5 + random.random()))
    with transaction(services.sessions) as session:
        session.execute(
            keyed_update(E).where(E.id == claim.id, E.attempts == claim.attempts, E.status == "processing")
            .values(status="pending", locked_until=now + delay, error=error)
        )
    return "pending"


def _expired(services: Services, claim: Claim) -> str:
    """An event taken over from expired leases MAX_ATTEMPTS times (a turn that kills or hangs its worker):
    not run again, but dead-lettered."""
    error = f"LeaseExpired: the lease ran out {claim.attempts - 1} times"
    return "failed" if dead_letter(services, claim.id, claim.attempts, error, utcnow()) else "lost"


def work_once(services: Services, connectors: dict[str, Connector] | None = None,
              http: PlatformSession | None = None, limit: int = 4, channels: list[str] | None = None) -> int:
    """Claim and process one round of events; returns how many were claimed."""
    import_spool(services)
    claims = claim_events(services, limit, channels=channels)
    if claims:
        process_round(services, claims, connectors, http)
    return len(claims)


class Processor:
    """One event thread's rounds, two at a time: while a round's NLU parses and downloads are fetched, the
    thread runs the transaction of the round before it. A round with nothing to fetch runs at once.

    The two rounds never share a conversation: a conversation's next event is claimable only once the event
    before it is finished. (One thread per process on SQLite: without the overlap, the NLU server would
    sit idle during every transaction, and questions went through at about two thirds of its rate.)"""

    def __init__(self, services: Services, connectors: dict[str, Connector] | None = None,
                 limit: int = 4) -> None:
        self.services, self.connectors, self.limit = services, connectors, limit
        self.ahead: Round | None = None

    def step(self, http: PlatformSession | None = None) -> int:
        """Claim a round, then run whichever rounds are ready; returns how many events it claimed or ran."""
        import_spool(self.services)
        claims = claim_events(self.services, self.limit)
        new = begin_round(self.services, claims, self.connectors, http, wait=False) if claims else None
        ran = 0
        if self.ahead is not None and (new is None or not new.ready or self.ahead.ready):
            ran += len(run_round(self.services, self.ahead, self.connectors, http))
            self.ahead = None
        if new is not None and new.ready:
            run_round(self.services, new, self.connectors, http)
        elif new is not None:
            self.ahead = new  # run at the next step, after that step's claim
        return len(claims) + ran

    def finish(self, http: PlatformSession | None = None) -> None:
        """Run the round still fetching (stopping)."""
        if self.ahead is not None:
            run_round(self.services, self.ahead, self.connectors, http)
            self.ahead = None


def drain(services: Services, connectors: dict[str, Connector] | None = None, rounds: int = 1000,
          channels: list[str] | None = None) -> int:
    """Process until nothing is claimable (console chat, tests)."""
    total = 0
    for _ in range(rounds):
        done = work_once(services, connectors, channels=channels)
        if not done:
            break
        total += done
    return total
