"""Dossiers: submission with a national-format code, the receipt, and status lookup with privacy.

The code is `<agency code>-<yyMMdd>-<NNNN>` (NĐ 61/2018, TT 01/2018/TT-VPCP): a daily sequence per
agency, drawn from one `DossierSequence` row with an atomic `UPDATE ... RETURNING`, so concurrent
submissions on SQLite and PostgreSQL never share a number. Details of a dossier go only to the
citizen who submitted it (same channel and user); anyone else holding a code learns status and date.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.agency import Agency, local_today
from bot.db import utcnow
from bot.messages import Reply
from bot.models import (
    Conversation,
    Dossier,
    DossierDocument,
    DossierSequence,
    DossierStatusChange,
    StoredFile,
)
from bot.numbers import narrow
from bot.templates import text

log = logging.getLogger(__name__)



def local_zone() -> ZoneInfo:
    """The agency's time zone (data/agency.yml), for dates citizens and officers read."""
    return Agency.load().timezone


# Modes whose processing time sets the appointment, most preferred first (the bot is an online channel).
MODE_PREFERENCE = ("online", "in_person", "postal")
CLOSED_STATUSES = ("result_ready", "returned", "rejected", "withdrawn")
# Dossier.applicant: {field id: value, LABELS_KEY: {field id: label as asked}}; "_" keys are not fields.
LABELS_KEY = "_labels"
# {field id: "card"} for fields read from the ID card's QR code and confirmed; the others were typed.
SOURCES_KEY = "_sources"
_SEQUENCE_ATTEMPTS = 5
# <agency code: groups of letters/digits joined by dots>-<yyMMdd>-<NNNN>, spaces and case tolerated.
_CODE = re.compile(
    r"(?<![\w.])(?P<agency>[A-Za-z0-9]{1,6}(?:\s*\.\s*[A-Za-z0-9]{1,6}){0,5})"
    r"\s*[-–]\s*(?P<day>[0-9]{6})\s*[-–]\s*(?P<seq>[0-9]{4,5})(?!\w)"
)


class SubmissionError(ValueError):
    """A dossier that cannot be created (unknown procedure, no processing time, foreign file)."""


class CatalogLike(Protocol):
    def get(self, code: str) -> Any: ...


@dataclass(frozen=True)
class DocumentEntry:
    """One file (or one "not applicable" answer) for a checklist item of the dossier."""

    item: str  # checklist item name, as shown to the citizen
    file_id: int | None = None  # StoredFile.id from bot.document
    not_applicable: bool = False  # the citizen answered "không có / không áp dụng" where the law allows
    supplement: bool = False


@dataclass(frozen=True)
class StatusView:
    """What a status lookup may show: everything for the owner, status and date for anyone else."""

    code: str
    status: str
    status_label: str
    appointment_date: date
    overdue: bool
    owner: bool
    procedure_name: str | None = None
    received_at: datetime | None = None
    note: str | None = None
    supplement_items: tuple[str, ...] = field(default_factory=tuple)

    def replies(self) -> list[Reply]:
        appointment = self.appointment_date.strftime("%d/%m/%Y")
        if not self.owner:
            body = text("dossier.status_public", code=self.code, status=self.status_label,
                        appointment=appointment)
        else:
            lines = [text("dossier.status_owner", code=self.code, procedure=self.procedure_name or "",
                          status=self.status_label, appointment=appointment)]
            if self.supplement_items:
                items = "\n".join(f"- {i}" for i in self.supplement_items)
                lines.append(text("dossier.status_supplement_items", items=items))
            if self.note:
                lines.append(text("dossier.status_note", note=self.note))
            body = "\n".join(lines)
        if self.overdue:
            body = f"{body}\n{text('dossier.status_overdue')}"
        return [Reply.say(body)]


# ------------------------------------------------------------------------------------------------
# Codes


def find_code(message: str) -> str | None:
    """The first dossier code in a message, normalised (upper case, no spaces); None when there is none."""
    for m in _CODE.finditer(narrow(message or "")):
        day = m.group("day")
        month, dom = int(day[2:4]), int(day[4:6])
        agency = re.sub(r"\s+", "", m.group("agency")).upper()
        if not (1 <= month <= 12 and 1 <= dom <= 31) or not any(ch.isalpha() for ch in agency):
            continue
        return f"{agency}-{day}-{m.group('seq')}"
    return None


def next_sequence(session: Session, agency_code: str, day: date) -> int:
    """The next number of `day` for `agency_code`, unique across concurrent transactions.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) until commit; the first
    submission of a day inserts the row inside a savepoint, and a concurrent first insert that loses
    the race on the unique key retries the UPDATE.
    """
    bump = (
        update(DossierSequence)
        .where(DossierSequence.agency_code == agency_code, DossierSequence.day == day)
        .values(last=DossierSequence.last + 1)
        .returning(DossierSequence.last)
        .execution_options(synchronize_session=False)
    )
    for _ in range(_SEQUENCE_ATTEMPTS):
        number = session.execute(bump).scalar_one_or_none()
        if number is not None:
            return int(number)
        try:
            with session.begin_nested():
                session.add(DossierSequence(agency_code=agency_code, day=day, last=1))
            return 1
        except IntegrityError:
            log.info("dossier sequence row for %s %s created concurrently; retrying", agency_code, day)
    raise RuntimeError("could not draw a dossier sequence number")


def make_code(prefix: str, day: date, number: int) -> str:
    return f"{prefix}-{day:%y%m%d}-{number:04d}"


# ------------------------------------------------------------------------------------------------
# Submission


def _procedure(catalog: CatalogLike, code: str) -> Any:
    try:
        procedure = catalog.get(code)
    except KeyError:
        procedure = None
    if procedure is None:
        raise SubmissionError(f"unknown procedure {code}")
    return procedure


def procedure_name(procedure: Any) -> str:
    """Short display name when the catalogue has one, else the official name."""
    for attr in ("short_name", "display_name", "name"):
        value = getattr(procedure, attr, None)
        if value:
            return str(value)
    return str(getattr(procedure, "code", ""))


def processing_time(procedure: Any) -> tuple[float | int, str]:
    """(value, unit) of the processing time: the online mode's when known, else in person, else postal."""
    by_mode: dict[str, tuple[float | int, str]] = {}
    for mode in getattr(procedure, "modes", None) or ():
        # bot.catalog.store.Mode is flat (duration_value/unit); the parser's ModeRow nests a Duration.
        duration = getattr(mode, "duration", None)
        value = getattr(mode, "duration_value", getattr(duration, "value", None))
        unit = getattr(mode, "duration_unit", getattr(duration, "unit", None))
        name = str(getattr(mode, "mode", ""))
        if value is not None and unit and name not in by_mode:
            by_mode[name] = (value, str(unit))
    for name in MODE_PREFERENCE:
        if name in by_mode:
            return by_mode[name]
    if by_mode:
        return next(iter(by_mode.values()))
    raise SubmissionError(f"procedure {getattr(procedure, 'code', '?')} has no processing time")


def normalised_phone(raw: object) -> str | None:
    """+84... for the staff search column; None when the applicant gave no valid phone."""
    from flows.validators import validate_phone

    if not raw:
        return None
    checked = validate_phone(str(raw), now=utcnow())
    return checked.value if checked.ok else None


def submit(
    session: Session,
    *,
    conversation: Conversation,
    procedure_code: str,
    applicant: dict[str, Any],
    documents: Sequence[DocumentEntry | dict[str, Any]],
    now: datetime,
    agency: Agency,
    catalog: CatalogLike,
) -> Dossier:
    """Create the dossier (status received, history row, appointment date) in the caller's transaction.

    `documents` are DocumentEntry objects or mappings with the same keys (item, file_id, not_applicable).
    Raises SubmissionError for an unknown procedure, one without processing time, or a foreign file.
    """
    documents = [d if isinstance(d, DocumentEntry) else DocumentEntry(**d) for d in documents]
    procedure = _procedure(catalog, procedure_code)
    value, unit = processing_time(procedure)
    appointment = agency.appointment_date(now, value, unit)
    files = _own_files(session, conversation, documents)
    day = agency.local(now).date()
    number = next_sequence(session, agency.dossier_code_prefix, day)
    dossier = Dossier(
        code=make_code(agency.dossier_code_prefix, day, number),
        procedure_code=procedure_code,
        procedure_name=procedure_name(procedure),
        conversation_id=conversation.id,
        channel=conversation.channel,
        user_id=conversation.user_id,
        applicant=dict(applicant),
        phone=normalised_phone(applicant.get("phone")),
        status="received",
        supplement_items=[],
        received_at=now,
        appointment_date=appointment,
        updated_at=now,
    )
    for entry in documents:
        dossier.documents.append(
            DossierDocument(item=entry.item[:200], file=files.get(entry.file_id) if entry.file_id else None,
                            not_applicable=entry.not_applicable, supplement=entry.supplement, created_at=now)
        )
    dossier.history.append(DossierStatusChange(status="received", note=None, actor="citizen", created_at=now))
    session.add(dossier)
    session.flush()
    log.info("dossier %s submitted (procedure %s, %d documents, conversation %s)", dossier.code,
             procedure_code, len(dossier.documents), conversation.id)
    return dossier


def _own_files(session: Session, conversation: Conversation,
               documents: Sequence[DocumentEntry]) -> dict[int, StoredFile]:
    """The stored files named by `documents`; each must have been sent in this conversation."""
    ids = {d.file_id for d in documents if d.file_id is not None}
    if not ids:
        return {}
    files = {f.id: f for f in session.scalars(select(StoredFile).where(StoredFile.id.in_(ids)))}
    foreign = [i for i in ids if i not in files or files[i].conversation_id != conversation.id]
    if foreign:
        raise SubmissionError(f"files {sorted(foreign)} do not belong to conversation {conversation.id}")
    return files


# ------------------------------------------------------------------------------------------------
# Receipt and status


def status_label(status: str) -> str:
    """Vietnamese label of a status code: the one wording for the chat, the console, the API and notices."""
    return text(f"dossier.status_{status}")


def applicant_fields(applicant: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of the applicant data, in the order asked; the field id when no label was kept."""
    data = applicant or {}
    labels = data.get(LABELS_KEY)
    names = labels if isinstance(labels, dict) else {}
    return [
        (str(names.get(key) or key), "" if value is None else str(value))
        for key, value in data.items()
        if not key.startswith("_")
    ]


def card_fields(applicant: dict[str, Any] | None) -> set[str]:
    """Labels (as applicant_fields shows them) of the fields read from the ID card and confirmed."""
    data = applicant or {}
    labels = data.get(LABELS_KEY) if isinstance(data.get(LABELS_KEY), dict) else {}
    sources = data.get(SOURCES_KEY) if isinstance(data.get(SOURCES_KEY), dict) else {}
    return {str(labels.get(k) or k) for k, v in sources.items() if v == "card" and k in data}


def _documents_text(dossier: Dossier) -> str:
    counts: dict[str, int] = {}
    missing: list[str] = []
    for doc in dossier.documents:
        if doc.not_applicable:
            missing.append(doc.item)
        elif doc.file_id is not None or doc.file is not None:
            counts[doc.item] = counts.get(doc.item, 0) + 1
    lines = [text("dossier.receipt_document", item=item, count=n) for item, n in counts.items()]
    lines += [text("dossier.receipt_document_none", item=item) for item in missing if item not in counts]
    return "\n".join(lines) if lines else text("dossier.receipt_no_documents")


def receipt(dossier: Dossier, catalog: CatalogLike | None = None) -> list[Reply]:
    """The chat receipt: code, procedure, documents received, appointment date, how to ask for the status."""
    name = dossier.procedure_name
    if not name and catalog is not None:
        try:
            procedure = catalog.get(dossier.procedure_code)
        except KeyError:
            procedure = None
        name = procedure_name(procedure) if procedure is not None else dossier.procedure_code
    body = text(
        "dossier.receipt",
        code=dossier.code,
        procedure=name or dossier.procedure_code,
        documents=_documents_text(dossier),
        appointment=dossier.appointment_date.strftime("%d/%m/%Y"),
    )
    return [Reply.say(body), Reply.say(text("dossier.receipt_how_to_check", code=dossier.code))]


def is_overdue(dossier: Dossier, today: date) -> bool:
    """Derived, never stored: the appointment date has passed and the centre has not finished."""
    return dossier.status not in CLOSED_STATUSES and dossier.appointment_date < today


def is_owner(dossier: Dossier, conversation: Conversation | None) -> bool:
    return (conversation is not None and dossier.channel == conversation.channel
            and dossier.user_id == conversation.user_id)


def lookup(session: Session, code: str, conversation: Conversation | None, *,
           now: datetime | None = None) -> StatusView | None:
    """The status of dossier `code` as `conversation` may see it; None for an unknown code."""
    normalised = find_code(code) or (code or "").strip().upper()
    dossier = session.scalars(select(Dossier).where(Dossier.code == normalised)).first()
    if dossier is None:
        return None
    owner = is_owner(dossier, conversation)
    day = local_today(now or utcnow())
    view = StatusView(
        code=dossier.code,
        status=dossier.status,
        status_label=status_label(dossier.status),
        appointment_date=dossier.appointment_date,
        overdue=is_overdue(dossier, day),
        owner=owner,
    )
    if not owner:
        return view
    asked = dossier.supplement_items if dossier.status == "supplement_requested" else None
    return replace(
        view,
        procedure_name=dossier.procedure_name or dossier.procedure_code,
        received_at=dossier.received_at,
        note=dossier.status_note,
        supplement_items=tuple(asked or ()),
    )


def dossiers_of(session: Session, conversation: Conversation) -> list[Dossier]:
    """The citizen's own dossiers (same channel and user), newest first."""
    return list(session.scalars(
        select(Dossier)
        .where(Dossier.channel == conversation.channel, Dossier.user_id == conversation.user_id)
        .order_by(Dossier.received_at.desc(), Dossier.id.desc())
    ))


def list_replies(dossiers: Sequence[Dossier], today: date) -> list[Reply]:
    """A short list of the citizen's dossiers (code, procedure, status, date) for check_status."""
    if not dossiers:
        return [Reply.say(text("dossier.list_empty"))]
    lines = [text("dossier.list_intro", count=len(dossiers))]
    for d in dossiers[:10]:
        status = status_label(d.status)
        if is_overdue(d, today):
            status = f"{status} ({text('dossier.overdue_short')})"
        lines.append(text("dossier.list_item", code=d.code, procedure=d.procedure_name or d.procedure_code,
                          status=status, appointment=d.appointment_date.strftime("%d/%m/%Y")))
    return [Reply.say("\n".join(lines))]
