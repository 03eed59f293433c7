"""The data lifecycle: how long the bot keeps what citizens gave it, and how it goes.

- Drafts: a flow left unfinished for DRAFT_TTL_DAYS is ended and its files deleted, and the citizen is told
  through the outbox by the job itself (no new message needed, and no failed turn can lose the notice).
  Loose files (in no draft, attached to no dossier) older than that go too.
- Retention (`retention` in data/agency.yml): the document files of dossiers finished for
  `finished_dossier_days`, and transcript lines older than `transcript_days` of citizens with no dossier
  still within retention. The dossier record itself (code, procedure, status history) stays.
- Orphans: files under FILES_DIR that no row names (written by a turn that then rolled back), after a
  grace period so a file a running turn is writing is never touched; web-chat upload originals once their
  message was processed DRAFT_TTL_DAYS ago (the checked copy, if any, is a stored file).
- Erasure (`bot.consent.erase`) removes files with the same helpers.

The jobs run from an in-process APScheduler in the embedded default and once per `motcua maintenance`
(cron, systemd timer) at scale. A run of a job holds that job's lease row, so two processes never run it
at once; every job acts only on what is still there, so a re-run is a no-op. No network call is made.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db import autocommit, insert_ignore, transaction, utcnow
from bot.messages import Reply
from bot.models import (
    Conversation,
    Dossier,
    DossierDocument,
    InboundEvent,
    MaintenanceLease,
    Message,
    OutboxMessage,
    StoredFile,
)
from bot.retention import (
    BATCH,
    FINISHED_DOSSIER,
    FINISHED_EVENTS,
    LEASE_HOLD,
    OPEN_EVENTS,
    SETTLED_OUTBOX,
    WEB_KEY,
    WEB_UPLOADS,
    Retention,
    delete_stored_files,
    held_card_photos,
)
from bot.services import Services
from bot.templates import text
from bot.transcript import enqueue

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- drafts


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _draft(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The draft a conversation state holds: the active flow, else one put aside for a side question."""
    for key in ("active", "suspended"):
        value = state.get(key)
        if isinstance(value, dict):
            return value
    return None


def draft_is_stale(state: Mapping[str, Any], now: datetime, ttl_days: int) -> bool:
    """Whether the draft was last touched more than `ttl_days` before `now`."""
    draft = _draft(state)
    updated = _moment(draft.get("updated_at")) if draft else None
    return updated is not None and now - updated > timedelta(days=ttl_days)


def draft_file_ids(state: Mapping[str, Any]) -> set[int]:
    """Stored file ids a state's drafts hold (checklist items, files waiting for "xong", card photos kept
    for a card-copy document)."""
    ids: set[int] = set()
    for key in ("active", "suspended"):
        draft = state.get(key)
        if not isinstance(draft, dict):
            continue
        docs = draft.get("docs") if isinstance(draft.get("docs"), dict) else {}
        for doc in docs.values():
            ids.update(int(f) for f in (doc or {}).get("files", []) if str(f).isdigit())
        ids.update(int(f) for f in draft.get("pending_files", []) if str(f).isdigit())
        ids |= held_card_photos(draft)
    return ids


def end_draft(state: dict[str, Any]) -> set[int]:
    """End the draft in `state` (changed in place); the ids of the files it held."""
    ids = draft_file_ids(state)
    state["active"] = None
    state.pop("suspended", None)
    state.pop("resume_offered", None)
    return ids


def delete_draft_files(session: Session, settings: Settings, conversation_id: int, ids: set[int]) -> int:
    """Delete a draft's files (never one a dossier holds); how many went."""
    if not ids:
        return 0
    return delete_stored_files(session, settings, and_(StoredFile.id.in_(sorted(ids)),
                                                       StoredFile.conversation_id == conversation_id))


def close_draft(session: Session, settings: Settings, conversation: Conversation, ids: set[int], title: str,
                *, in_reply_to: str | None = None) -> int:
    """Delete an ended draft's files and tell the citizen through the outbox; how many files went.

    The notice goes straight into the outbox (not into a turn's replies), so nothing later in the turn,
    such as the NLU being down, can lose it. Without a message to answer it is a notification.
    """
    files = delete_draft_files(session, settings, conversation.id, ids)
    notice = Reply.say(text("dialogue.draft_expired", title=title, days=settings.draft_ttl_days))
    enqueue(session, conversation, notice, purpose="reply" if in_reply_to else "notification",
            in_reply_to=in_reply_to)
    log.info("draft expired conversation=%s files=%d", conversation.id, files)
    return files


def expire_drafts(services: Services, now: datetime) -> dict[str, int]:
    """End each draft older than DRAFT_TTL_DAYS, delete its files, queue the notice; then old loose files."""
    from flows.loader import load_flows

    settings = services.settings
    C = Conversation
    has_draft = or_(C.state[("active", "flow")].as_string().is_not(None),
                    C.state[("suspended", "flow")].as_string().is_not(None))
    with services.sessions() as session:
        rows = session.execute(select(C.id, C.channel, C.user_id, C.state, C.last_inbound_at)
                               .where(has_draft).order_by(C.id)).all()
    stale = [row for row in rows if draft_is_stale(row.state or {}, now, settings.draft_ttl_days)]
    titles = {f.name: f.title for f in load_flows(str(settings.data_dir / "flows")).values()} if stale else {}
    drafts = files = 0
    for row in stale:
        done = _expire_one(services, row, now, titles)
        if done is not None:
            drafts += 1
            files += done
    files += _drop_stale_loose_files(services, now - timedelta(days=settings.draft_ttl_days))
    return {"drafts_expired": drafts, "files_deleted": files}


def _expire_one(services: Services, row: Any, now: datetime, titles: Mapping[str, str]) -> int | None:
    """Expire one draft unless the citizen wrote meanwhile or a turn is pending (that turn expires it).

    On PostgreSQL a turn that read the state just before this commits expires the same draft again: the
    outcome is the same (draft ended, files gone), at worst with the notice twice; a draft is never lost
    half-way nor revived.
    """
    settings = services.settings
    C, E = Conversation, InboundEvent
    state = copy.deepcopy(dict(row.state))
    draft = _draft(state) or {}
    title = titles.get(str(draft.get("flow")), "")
    ended = copy.deepcopy(state)
    ids = end_draft(ended)
    seen = row.last_inbound_at
    unchanged = C.last_inbound_at.is_(None) if seen is None else C.last_inbound_at == seen
    waiting = select(E.id).where(E.channel == row.channel, E.user_id == row.user_id,
                                 E.status.in_(OPEN_EVENTS)).exists()
    with transaction(services.sessions) as session:
        taken = session.execute(update(C).where(C.id == row.id, unchanged, ~waiting).values(state=ended)
                                .execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            return None
        conversation = session.get(C, row.id)
        assert conversation is not None
        return close_draft(session, settings, conversation, ids, title)


def _drop_stale_loose_files(services: Services, before: datetime) -> int:
    """Files older than `before` that no draft holds and no dossier document holds (abandoned drafts)."""
    attached = select(DossierDocument.file_id).where(DossierDocument.file_id.is_not(None))
    with transaction(services.sessions) as session:
        rows = session.execute(
            select(StoredFile.id, Conversation.state)
            .outerjoin(Conversation, StoredFile.conversation_id == Conversation.id)
            .where(StoredFile.created_at < before, StoredFile.id.not_in(attached))
        ).all()
        held: set[int] = set()
        for row in rows:
            held |= draft_file_ids(row.state or {})
        doomed = sorted(row.id for row in rows if row.id not in held)
        if not doomed:
            return 0
        return delete_stored_files(session, services.settings,
                                   and_(StoredFile.id.in_(doomed), StoredFile.created_at < before))


# ---------------------------------------------------------------- retention of finished dossiers


def apply_retention(services: Services, now: datetime) -> dict[str, int]:
    """Delete files of long-finished dossiers and old transcript lines of citizens with none in retention."""
    settings = services.settings
    retention = Retention.load(settings.data_dir)
    dossier_cutoff = now - timedelta(days=retention.finished_dossier_days)
    transcript_cutoff = now - timedelta(days=retention.transcript_days)
    D, DD = Dossier, DossierDocument
    expired = and_(D.status.in_(FINISHED_DOSSIER), D.updated_at < dossier_cutoff)
    kept = or_(D.status.not_in(FINISHED_DOSSIER), D.updated_at >= dossier_cutoff)
    with transaction(services.sessions) as session:
        old = set(session.scalars(select(DD.file_id).join(D).where(expired, DD.file_id.is_not(None))))
        old -= set(session.scalars(select(DD.file_id).join(D).where(kept, DD.file_id.is_not(None))))
        ids = sorted(old)
        for start in range(0, len(ids), BATCH):
            session.execute(update(DD).where(DD.file_id.in_(ids[start:start + BATCH])).values(file_id=None)
                            .execution_options(synchronize_session=False))
        files = delete_stored_files(session, settings, StoredFile.id.in_(ids)) if ids else 0

        live_conversations = select(D.conversation_id).where(D.conversation_id.is_not(None), kept)
        live_citizens = select(D.channel, D.user_id).where(kept)
        citizen = tuple_(InboundEvent.channel, InboundEvent.user_id)
        messages = session.execute(
            delete(Message).where(Message.created_at < transcript_cutoff,
                                  Message.conversation_id.not_in(live_conversations))
            .execution_options(synchronize_session=False)).rowcount or 0
        outbox = session.execute(
            delete(OutboxMessage).where(OutboxMessage.created_at < transcript_cutoff,
                                        OutboxMessage.status.in_(SETTLED_OUTBOX),
                                        OutboxMessage.conversation_id.not_in(live_conversations))
            .execution_options(synchronize_session=False)).rowcount or 0
        events = session.execute(
            update(InboundEvent).where(InboundEvent.received_at < transcript_cutoff,
                                       InboundEvent.status.in_(FINISHED_EVENTS),
                                       func.length(InboundEvent.raw) > 0,
                                       citizen.not_in(live_citizens))
            .values(raw=b"", inbound=None, detail=None, error=None)
            .execution_options(synchronize_session=False)).rowcount or 0
    return {"files_deleted": files, "messages_deleted": messages, "outbox_deleted": outbox,
            "events_cleared": events}


# ---------------------------------------------------------------- orphans


def sweep_orphans(services: Services, now: datetime) -> dict[str, int]:
    """Delete files older than the grace period that no row names, and old web-chat upload originals.

    A web original whose message was processed is kept for DRAFT_TTL_DAYS like any loose file: the
    checked copy (if it went into a draft) is a stored file, but staff may open the original from the
    transcript of a conversation they handle. One that no event names at all is an orphan.
    """
    settings = services.settings
    folder = Path(settings.files_dir)
    limit = (now - timedelta(minutes=settings.orphan_grace_minutes)).timestamp()
    stored = [p for p in _older(folder, limit) if not p.name.startswith(".")]
    partial = [p for p in _older(folder, limit) if p.name.startswith(".") and p.name.endswith(".part")]
    web = folder / WEB_UPLOADS  # flat older uploads, then one folder per visitor
    visitors = [sub for sub in web.iterdir() if sub.is_dir()] if web.is_dir() else []
    uploads = [p for sub in (web, *visitors) for p in _older(sub, limit) if WEB_KEY.match(p.name)]
    with services.sessions() as session:
        known: set[str] = set()
        names = [p.name for p in stored]
        for start in range(0, len(names), BATCH):
            known.update(session.scalars(select(StoredFile.storage_name)
                                         .where(StoredFile.storage_name.in_(names[start:start + BATCH]))))
        events: dict[bytes, set[str]] = {}
        keys = [p.name.encode() for p in uploads]
        for start in range(0, len(keys), BATCH):
            for raw, status in session.execute(select(InboundEvent.raw, InboundEvent.status).where(
                    InboundEvent.channel == "web", InboundEvent.raw.in_(keys[start:start + BATCH]))):
                events.setdefault(bytes(raw), set()).add(status)
    draft_limit = (now - timedelta(days=settings.draft_ttl_days)).timestamp()

    def upload_done(path: Path) -> bool:
        statuses = events.get(path.name.encode())
        if statuses is None:
            return True  # no message names it (its event was never stored)
        return not statuses & set(OPEN_EVENTS) and _mtime(path) < draft_limit

    doomed = [p for p in stored if p.name not in known] + partial + [p for p in uploads if upload_done(p)]
    removed = 0
    for path in doomed:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not delete an orphaned file: %s", type(exc).__name__)
    return {"files_deleted": removed}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: nothing to do


def _older(folder: Path, limit: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if path.is_file() and _mtime(path) < limit]


# ---------------------------------------------------------------- running the jobs

JOBS: dict[str, Callable[[Services, datetime], dict[str, int]]] = {
    "drafts": expire_drafts,
    "retention": apply_retention,
    "orphans": sweep_orphans,
}


def _owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident()}"[:64]


def _claim(services: Services, job: str, owner: str) -> bool:
    """Take the job's lease if it is free or its holder's lease ran out; one conditional UPDATE decides."""
    L = MaintenanceLease
    moment = utcnow()  # leases are about processes, so wall-clock time, whatever `now` the jobs are given
    with autocommit(services.sessions) as connection:
        insert_ignore(connection, L, [{"job": job, "owner": None, "until": None, "last_done_at": None}])
        taken = connection.execute(update(L).where(L.job == job, or_(L.until.is_(None), L.until < moment))
                                   .values(owner=owner, until=moment + LEASE_HOLD)).rowcount
    return taken == 1


def _release(services: Services, job: str, owner: str) -> None:
    L = MaintenanceLease
    with autocommit(services.sessions) as connection:
        connection.execute(update(L).where(L.job == job, L.owner == owner)
                           .values(owner=None, until=None, last_done_at=utcnow()))


def run_once(services: Services, now: datetime | None = None,
             jobs: Iterable[str] = tuple(JOBS)) -> dict[str, dict[str, int] | None]:
    """Run each job once, unless another process runs it now (then its result is None)."""
    owner = _owner()
    results: dict[str, dict[str, int] | None] = {}
    for job in jobs:
        if not _claim(services, job, owner):
            log.info("maintenance %s: running elsewhere, skipped", job)
            results[job] = None
            continue
        try:
            results[job] = JOBS[job](services, now or utcnow())
        finally:
            _release(services, job, owner)
        log.info("maintenance %s: %s", job, results[job])
    return results


def start_scheduler(services: Services) -> Any:
    """The in-process schedule of the embedded default: every job every MAINTENANCE_INTERVAL_MINUTES."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    scheduler.add_job(run_once, "interval", args=[services], id="motcua-maintenance",
                      minutes=services.settings.maintenance_interval_minutes, max_instances=1, coalesce=True,
                      next_run_time=utcnow() + timedelta(minutes=1))
    scheduler.start()
    return scheduler
