"""What is kept and what goes: the retention setting, the finished states, and file deletion that happens
only once the deleting transaction commits. Shared by erasure (`bot.consent`) and the scheduled jobs
(`bot.lifecycle`); it knows nothing of flows, so both can use it without an import circle."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import ColumnElement, and_, delete, event, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import DossierDocument, InboundEvent, StoredFile
from connectors.web import upload_path, web_upload_path

log = logging.getLogger(__name__)

FINISHED_DOSSIER = ("returned", "rejected", "withdrawn")
FINISHED_EVENTS = ("done", "ignored", "failed")
OPEN_EVENTS = ("pending", "processing")
# Outbox rows nobody is sending: sent, given up, marked handled by staff, or held for the citizen's return.
SETTLED_OUTBOX = ("sent", "failed", "handled", "held")
LEASE_HOLD = timedelta(minutes=30)  # a crashed holder blocks the job at most this long
WEB_UPLOADS = "web"  # FILES_DIR/web/<visitor>/<key> (older: web/<key>): web-chat upload originals
WEB_KEY = re.compile(r"^[0-9a-f]{32}$")
WEB_VISITOR = re.compile(r"^w[0-9a-f]{32}$")
BATCH = 500
# A card photo kept for a document that is a copy of the card (flows.kinds.id_card): in a draft, the photo of
# a reading still to confirm is draft["card"]["photo"], a confirmed one waits in draft["card_copies"][person].
CARD_COPIES = "card_copies"
DEFAULT_RETENTION_DAYS = 365


# ---------------------------------------------------------------- retention setting


@dataclass(frozen=True)
class Retention:
    """`retention` of data/agency.yml (the legal reasoning is written next to it there)."""

    finished_dossier_days: int = DEFAULT_RETENTION_DAYS
    transcript_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def load(cls, data_dir: Path) -> Retention:
        return _retention(str(data_dir / "agency.yml"))


@lru_cache(maxsize=8)
def _retention(path: str) -> Retention:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    section = raw.get("retention") or {}
    if not isinstance(section, Mapping):
        raise ValueError("agency.yml retention: expected a mapping")
    values = {}
    for name in ("finished_dossier_days", "transcript_days"):
        value = section.get(name, DEFAULT_RETENTION_DAYS)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"agency.yml retention.{name}: expected a whole number of days >= 1")
        values[name] = value
    return Retention(**values)


# ---------------------------------------------------------------- files


def unlink_after_commit(session: Session, paths: Iterable[Path]) -> None:
    """Delete files on disk once the transaction that dropped their rows commits (a rollback keeps both)."""
    doomed = list(paths)
    if not doomed:
        return

    def unlink(_session: Session) -> None:
        for path in doomed:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete a stored file: %s", type(exc).__name__)

    event.listen(session, "after_commit", unlink, once=True)


def delete_stored_files(session: Session, settings: Settings, where: ColumnElement[bool]) -> int:
    """Delete the stored files matching `where` that no dossier document holds; their files after commit."""
    attached = select(DossierDocument.file_id).where(DossierDocument.file_id.is_not(None))
    loose = and_(where, StoredFile.id.not_in(attached))
    rows = session.execute(select(StoredFile.id, StoredFile.storage_name).where(loose)).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    for start in range(0, len(ids), BATCH):
        session.execute(delete(StoredFile).where(StoredFile.id.in_(ids[start:start + BATCH]),
                                                 StoredFile.id.not_in(attached))
                        .execution_options(synchronize_session=False))
    unlink_after_commit(session, [Path(settings.files_dir) / row.storage_name for row in rows])
    return len(rows)


def held_card_photos(draft: object) -> set[int]:
    """Stored file ids of the card photos a draft holds for a card-copy document it has not filed yet."""
    if not isinstance(draft, Mapping):
        return set()
    card = draft.get("card")
    copies = draft.get(CARD_COPIES)
    ids = list(copies.values()) if isinstance(copies, Mapping) else []
    ids += [card.get("photo")] if isinstance(card, Mapping) else []
    return {int(i) for i in ids if str(i).isdigit()}


def drop_card_photos(session: Session, settings: Settings, conversation_id: int, ids: set[int]) -> int:
    """Delete (file after commit, and row) card photos of this conversation a draft no longer needs (see
    `held_card_photos`): it ends or moves past the document they were kept for; how many went."""
    if not ids:
        return 0
    where = and_(StoredFile.id.in_(sorted(ids)), StoredFile.conversation_id == conversation_id)
    return delete_stored_files(session, settings, where)


def web_upload_keys(session: Session, channel: str, user_id: str) -> list[str]:
    """Keys of the web uploads named by a citizen's finished events (an upload event's raw is its key)."""
    if channel != "web":
        return []
    raws = session.scalars(select(InboundEvent.raw).where(
        InboundEvent.channel == channel, InboundEvent.user_id == user_id,
        InboundEvent.status.in_(FINISHED_EVENTS)))
    keys = (bytes(raw or b"").decode("ascii", "ignore") for raw in raws)
    return [key for key in keys if WEB_KEY.match(key)]


def discard_web_upload(session: Session, settings: Settings, user_id: str, url: str) -> bool:
    """Delete, after commit, a web-chat upload that must not be kept (a photo of an ID card, read in
    memory; a copy kept for a card-copy document is a stored file of its own); only the visitor's own.
    Whether there was one."""
    path = web_upload_path(url, settings)
    if path is None or path.parent.name != user_id:
        return False
    unlink_after_commit(session, [path])
    return True


def delete_web_uploads(session: Session, settings: Settings, user_id: str, keys: Iterable[str]) -> int:
    """Delete a web visitor's upload originals after commit: their folder, and the older flat uploads their
    events name; how many there were."""
    own = upload_path(settings, user_id, "-").parent
    visitor = WEB_VISITOR.match(user_id) and own.is_dir()  # only a web visitor's id names a folder
    paths = [path for path in own.iterdir() if path.is_file()] if visitor else []
    flat = (upload_path(settings, None, key) for key in keys if WEB_KEY.match(key))
    paths += [path for path in flat if path.is_file()]
    unlink_after_commit(session, paths)
    return len(paths)
