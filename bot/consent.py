"""Consent to personal-data processing, and erasure on request (Law 91/2025/QH15, Decree 356/2025).

No personal data is collected before a recorded "yes" to the current text version. The version is
derived from the consent text itself, so editing the text asks every citizen again. Erasure removes
what the citizen gave us; dossiers already submitted are administrative records the centre must keep,
and the citizen is told which ones and why. Every erasure leaves a log entry with counts only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.agency import Agency
from bot.config import DATA_DIR, Settings
from bot.db import utcnow
from bot.messages import Button, Reply
from bot.models import (
    ConsentRecord,
    Conversation,
    Dossier,
    DossierDocument,
    ErasureRecord,
    InboundEvent,
    Message,
    OutboxMessage,
    StoredFile,
)
from bot.retention import (
    FINISHED_EVENTS,
    SETTLED_OUTBOX,
    Retention,
    delete_stored_files,
    delete_web_uploads,
    web_upload_keys,
)
from bot.templates import text

log = logging.getLogger(__name__)

DEFAULT_PURPOSE = "dossier"
CONSENT_YES = "consent:yes"
CONSENT_NO = "consent:no"
CONSENT_DETAILS = "consent:details"
# The channels whose messaging platform the consent text names (consent.platform_<channel>).
PLATFORMS = ("zalo", "facebook", "web")
# The templates that make up the text a citizen agrees to; their content defines CONSENT_VERSION.
CONSENT_TEXT_KEYS = ("consent.request", "consent.details", "consent.purpose_default", "consent.purpose_named",
                     *(f"consent.platform_{channel}" for channel in PLATFORMS))


def _consent_version(path: Path = DATA_DIR / "templates" / "consent.yml") -> str:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    material = json.dumps({k: raw.get(k) for k in CONSENT_TEXT_KEYS}, ensure_ascii=False, sort_keys=True)
    return "v1-" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:12]


CONSENT_VERSION: str = _consent_version()


def _values(agency: Agency, settings: Settings, purpose: str, channel: str) -> dict[str, object]:
    """What the consent texts are filled with: the agency, the purpose, the platform, the real periods."""
    purpose_text = (text("consent.purpose_named", purpose=purpose.strip()) if purpose.strip()
                    else text("consent.purpose_default"))
    retention = Retention.load(settings.data_dir)
    platform = text(f"consent.platform_{channel}") if channel in PLATFORMS else ""
    return {"centre": agency.name, "address": agency.address, "phone": agency.phone,
            "purpose": purpose_text, "platform": platform, "days": settings.draft_ttl_days,
            "kept_days": retention.finished_dossier_days, "transcript_days": retention.transcript_days}


def consent_text(agency: Agency, settings: Settings, purpose: str = "", channel: str = "") -> str:
    """The short statement asked with the question: who controls the data, why, which data (others' too),
    who receives it, how long, how to withdraw and complain. Chat-sized; the full text is
    `consent_details`."""
    return text("consent.request", **_values(agency, settings, purpose, channel)).replace(" \n", "\n")


def consent_details(agency: Agency, settings: Settings, purpose: str = "", channel: str = "") -> str:
    """The full statement ("Xem chi tiết"): sensitive data, the ID card, recipients, every period, rights."""
    return text("consent.details", **_values(agency, settings, purpose, channel))


def consent_request(purpose: str = "", *, agency: Agency | None = None,
                    settings: Settings | None = None, channel: str = "") -> str:
    """`consent_text` with the agency of data/agency.yml and the settings from the environment by default."""
    return consent_text(agency or Agency.load(), settings or Settings.load(), purpose, channel)


def _buttons() -> tuple[Button, ...]:
    return (Button(text("consent.button_yes"), CONSENT_YES), Button(text("consent.button_no"), CONSENT_NO))


def consent_prompt(agency: Agency, settings: Settings, purpose: str = "", channel: str = "") -> Reply:
    """The consent question with Đồng ý / Không đồng ý / Xem chi tiết buttons (CONSENT_YES, _NO, _DETAILS)."""
    return Reply.say(consent_text(agency, settings, purpose, channel), *_buttons(),
                     Button(text("consent.button_details"), CONSENT_DETAILS))


def consent_details_prompt(agency: Agency, settings: Settings, purpose: str = "", channel: str = "") -> Reply:
    """The full text, with the same question's Đồng ý / Không đồng ý buttons."""
    return Reply.say(consent_details(agency, settings, purpose, channel), *_buttons())


def record(session: Session, conversation: Conversation, granted: bool = True, now: datetime | None = None,
           *, purpose: str = DEFAULT_PURPOSE) -> ConsentRecord:
    """Record the citizen's answer to the current consent text (or a withdrawal, granted=False)."""
    now = now or utcnow()
    entry = ConsentRecord(conversation_id=conversation.id, purpose=purpose, text_version=CONSENT_VERSION,
                          granted=granted, at=now)
    session.add(entry)
    session.flush()
    log.info("consent %s for conversation %s (%s, %s)", "granted" if granted else "refused",
             conversation.id, purpose, CONSENT_VERSION)
    return entry


def has_consent(session: Session, conversation: Conversation, purpose: str = DEFAULT_PURPOSE) -> bool:
    """Whether the latest answer for `purpose` is a yes to the current text version."""
    latest = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.conversation_id == conversation.id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())
        .limit(1)
    ).first()
    return bool(latest and latest.granted and latest.text_version == CONSENT_VERSION)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed and what the law made us keep; `replies()` tells the citizen."""

    profile_fields: int
    draft_cleared: bool
    messages_deleted: int
    events_cleared: int
    outbox_deleted: int
    files_deleted: int
    files_kept: int
    dossiers_kept: int
    kept_codes: tuple[str, ...] = field(default_factory=tuple)
    uploads_deleted: int = 0  # web-chat upload originals (copies of the files counted above)

    def replies(self) -> list[Reply]:
        lines = [text("consent.erased")]
        if self.files_deleted:
            lines.append(text("consent.erased_files", files=self.files_deleted))
        if self.dossiers_kept:
            codes = ", ".join(self.kept_codes)
            lines.append(text("consent.erased_kept", count=self.dossiers_kept, codes=codes))
        return [Reply.say("\n".join(lines))]


def erase(session: Session, settings: Settings, conversation: Conversation, now: datetime, *,
          requested_by: str = "citizen") -> ErasureReport:
    """Erase the citizen's personal data of this conversation, in the caller's transaction.

    Removed: profile, draft flow state, transcript, finished inbound events' content, every outbox row not
    being sent (sent, failed, handled by staff, held), stored files not attached to a submitted dossier and
    the web-chat upload originals (the files on disk once the transaction commits). No cache holds
    citizen data. Kept: submitted dossiers and their documents (administrative records the centre must
    keep; named in the report), replies still being sent, consent and erasure logs (counts only).
    The flow state is emptied too, so the caller must not write the old state back afterwards. Inside a
    citizen's turn, write the turn's message first (`TurnTranscript.write_inbound`) so it is erased too.
    """
    session.flush()
    uploads = web_upload_keys(session, conversation.channel, conversation.user_id)
    profile_fields = len(conversation.profile or {})
    draft_cleared = bool(conversation.state)
    conversation.profile = {}
    conversation.state = {}

    messages = session.execute(
        delete(Message).where(Message.conversation_id == conversation.id)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    events = session.execute(
        update(InboundEvent)
        .where(InboundEvent.channel == conversation.channel, InboundEvent.user_id == conversation.user_id,
               InboundEvent.status.in_(FINISHED_EVENTS))
        .values(raw=b"", inbound=None, detail=None, error=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    outbox = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.conversation_id == conversation.id, OutboxMessage.status.in_(SETTLED_OUTBOX))
        .execution_options(synchronize_session=False)
    ).rowcount or 0

    attached = select(DossierDocument.file_id).where(DossierDocument.file_id.is_not(None))
    files_kept = session.scalar(select(func.count(StoredFile.id)).where(
        StoredFile.conversation_id == conversation.id, StoredFile.id.in_(attached))) or 0
    files_deleted = delete_stored_files(session, settings, StoredFile.conversation_id == conversation.id)
    uploads_deleted = delete_web_uploads(session, settings, conversation.user_id, uploads)

    codes = tuple(session.scalars(
        select(Dossier.code)
        .where(Dossier.channel == conversation.channel, Dossier.user_id == conversation.user_id)
        .order_by(Dossier.id)
    ))
    purposes = set(session.scalars(
        select(ConsentRecord.purpose).where(ConsentRecord.conversation_id == conversation.id)
    ))
    for purpose in sorted(purposes):
        session.add(ConsentRecord(conversation_id=conversation.id, purpose=purpose,
                                  text_version=CONSENT_VERSION, granted=False, at=now))
    report = ErasureReport(
        profile_fields=profile_fields, draft_cleared=draft_cleared, messages_deleted=messages,
        events_cleared=events, outbox_deleted=outbox, files_deleted=files_deleted, files_kept=files_kept,
        dossiers_kept=len(codes), kept_codes=codes, uploads_deleted=uploads_deleted,
    )
    session.add(ErasureRecord(
        conversation_id=conversation.id, channel=conversation.channel, requested_by=requested_by,
        profile_fields=profile_fields, draft_cleared=draft_cleared, messages_deleted=messages,
        events_cleared=events, outbox_deleted=outbox, files_deleted=files_deleted, files_kept=files_kept,
        dossiers_kept=len(codes), at=now,
    ))
    session.flush()
    session.expire(conversation, ["messages"])
    log.info("erased conversation %s: %d messages, %d files, %d uploads, %d dossiers kept", conversation.id,
             messages, files_deleted, uploads_deleted, len(codes))
    return report

