"""Dossiers: submission with the bot's own reference, the receipt, and status lookup with privacy.

Two codes, never confused. At submission the bot gives a pre-registration reference ("mã tiếp nhận
trực tuyến", `TN-XXXX-XXXX`: random Crockford base-32 with a Luhn mod 32 check character), which cannot
look like or collide with the one-stop system's codes. The official dossier code `<agency
code>-<yyMMdd>-<NNNN>` (NĐ 61/2018, TT 01/2018/TT-VPCP) exists only once an officer accepts the dossier
(bot.dossier_workflow): given by the one-stop system or drawn here from a daily `DossierSequence` row
with an atomic `UPDATE ... RETURNING`, so concurrent acceptances never share a number. Lookup accepts
both. Details of a dossier go only to the citizen who submitted it (same channel and user); anyone else
holding a code learns status and date.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import luhn

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
from bot.templates import has, text

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
# The online reference: "TN" (tiếp nhận) and 8 characters of Crockford's base 32 (no I, L, O, U), the
# last a Luhn mod 32 check character, shown as TN-XXXX-XXXX. No day group of six digits, so it can
# never be read as, or collide with, an official `<agency>-<yyMMdd>-<NNNN>` code.
REFERENCE_PREFIX = "TN"
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REFERENCE_ATTEMPTS = 10
_REFERENCE = re.compile(r"(?<![\w.])TN\s*[-–]?\s*([0-9A-Z]{4})\s*[-–]?\s*([0-9A-Z]{4})(?!\w)", re.IGNORECASE)
_READ_AS = str.maketrans("ILO", "110")  # what people type for the letters the alphabet leaves out
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
    from_card: bool = False  # the ID card photo the citizen sent to fill in the details, kept as this copy


@dataclass(frozen=True)
class StatusView:
    """What a status lookup may show: everything for the owner, status and date for anyone else."""

    code: str  # the code to show: the official one once accepted, else the online reference
    status: str
    status_label: str
    appointment_date: date | None
    overdue: bool
    owner: bool
    reference: str = ""
    estimated_date: date | None = None
    procedure_name: str | None = None
    received_at: datetime | None = None
    note: str | None = None
    supplement_items: tuple[str, ...] = field(default_factory=tuple)

    def replies(self) -> list[Reply]:
        appointment = date_line(self.appointment_date, self.estimated_date, self.status)
        if not self.owner:
            body = text("dossier.status_public", code=self.code, status=self.status_label,
                        appointment=appointment)
        else:
            lines = [text("dossier.status_owner", code=self.code, procedure=self.procedure_name or "",
                          status=self.status_label, appointment=appointment)]
            if self.reference and self.reference != self.code:
                lines.append(text("dossier.status_reference", reference=self.reference))
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


def find_official_code(message: str) -> tuple[int, str] | None:
    """(position, normalised code) of the first official `<agency>-<yyMMdd>-<NNNN>` code in a message."""
    for m in _CODE.finditer(narrow(message or "")):
        day = m.group("day")
        month, dom = int(day[2:4]), int(day[4:6])
        agency = re.sub(r"\s+", "", m.group("agency")).upper()
        if not (1 <= month <= 12 and 1 <= dom <= 31) or not any(ch.isalpha() for ch in agency):
            continue
        return m.start(), f"{agency}-{day}-{m.group('seq')}"
    return None


def find_reference(message: str) -> tuple[int, str] | None:
    """(position, normalised reference) of the first online reference whose check character is right."""
    for m in _REFERENCE.finditer(narrow(message or "")):
        body = (m.group(1) + m.group(2)).upper().translate(_READ_AS)
        if all(ch in REFERENCE_ALPHABET for ch in body) and luhn.is_valid(body, alphabet=REFERENCE_ALPHABET):
            return m.start(), f"{REFERENCE_PREFIX}-{body[:4]}-{body[4:]}"
    return None


def find_code(message: str) -> str | None:
    """The first dossier code in a message, official code or online reference, normalised; else None."""
    found = [f for f in (find_official_code(message), find_reference(message)) if f is not None]
    return min(found)[1] if found else None


def new_reference(session: Session) -> str:
    """A fresh online reference, unused in the database (34 random bits: a clash is retried, not expected)."""
    for _ in range(_REFERENCE_ATTEMPTS):
        body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(7))
        body += luhn.calc_check_digit(body, alphabet=REFERENCE_ALPHABET)
        reference = f"{REFERENCE_PREFIX}-{body[:4]}-{body[4:]}"
        if session.scalar(select(Dossier.id).where(Dossier.code == reference)) is None:
            return reference
    raise RuntimeError("could not draw an unused dossier reference")


def shown_code(dossier: Dossier) -> str:
    """The code to show the citizen and officers: the official one once accepted, else the reference."""
    return dossier.official_code or dossier.code


def find_dossier(session: Session, code: str) -> Dossier | None:
    """The dossier with this online reference or official code (as typed or found in a message)."""
    normalised = find_code(code) or (code or "").strip().upper()
    if not normalised:
        return None
    return session.scalars(
        select(Dossier).where(or_(Dossier.code == normalised, Dossier.official_code == normalised))
    ).first()


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


def official_code(session: Session, agency: Agency, now: datetime) -> str:
    """The next official dossier code of the acceptance day, for an officer who does not give one."""
    day = agency.local(now).date()
    return make_code(agency.dossier_code_prefix, day, next_sequence(session, agency.dossier_code_prefix, day))


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
    """Create the dossier waiting for acceptance (online reference, no official code, no promised date,
    an estimate only inside the trusted holiday list) with its history row, in the caller's transaction.

    `documents` are DocumentEntry objects or mappings with the same keys (item, file_id, not_applicable).
    Raises SubmissionError for an unknown procedure, one without processing time, or a foreign file.
    """
    documents = [d if isinstance(d, DocumentEntry) else DocumentEntry(**d) for d in documents]
    procedure = _procedure(catalog, procedure_code)
    value, unit = processing_time(procedure)
    estimate = agency.promised_date(now, value, unit, local_today(now))
    files = _own_files(session, conversation, documents)
    dossier = Dossier(
        code=new_reference(session),
        procedure_code=procedure_code,
        procedure_name=procedure_name(procedure),
        conversation_id=conversation.id,
        channel=conversation.channel,
        user_id=conversation.user_id,
        applicant=dict(applicant),
        phone=normalised_phone(applicant.get("phone")),
        status="waiting_acceptance",
        supplement_items=[],
        received_at=now,
        appointment_date=None,
        estimated_date=estimate,
        processing_value=float(value),
        processing_unit=unit,
        updated_at=now,
    )
    for entry in documents:
        dossier.documents.append(
            DossierDocument(item=entry.item[:200], file=files.get(entry.file_id) if entry.file_id else None,
                            not_applicable=entry.not_applicable, supplement=entry.supplement,
                            from_card=entry.from_card, created_at=now)
        )
    dossier.history.append(DossierStatusChange(status="waiting_acceptance", note=None, actor="citizen",
                                                  created_at=now))
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


def date_line(appointment: date | None, estimate: date | None = None, status: str = "") -> str:
    """The date line of a receipt or status: the promised date, else a labelled estimate, else who sets it."""
    if appointment is not None:
        return text("dossier.date_appointment", appointment=appointment.strftime("%d/%m/%Y"))
    if status in CLOSED_STATUSES:
        return text("dossier.date_closed")
    if status == "waiting_acceptance" and estimate is not None:
        return text("dossier.date_estimate", estimate=estimate.strftime("%d/%m/%Y"))
    return text("dossier.date_by_officer")


def receipt(dossier: Dossier, catalog: CatalogLike | None = None) -> list[Reply]:
    """The chat receipt: the online reference, procedure, documents sent, an estimate (or none), what next."""
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
        appointment=date_line(dossier.appointment_date, dossier.estimated_date, dossier.status),
    )
    return [Reply.say(body), Reply.say(text("dossier.receipt_how_to_check", code=dossier.code))]


def result_pickup(procedure_code: str, catalog: CatalogLike | None = None) -> str:
    """How the citizen gets the result of this procedure, for the result-ready notice.

    A text written for the procedure (`dossier.pickup_<code>`, from its catalogue entry: e.g. both
    spouses sign for a marriage) wins; a result that is only a database update (cư trú) is not
    collected at all; otherwise the catalogue's result document, collected at the centre.
    """
    key = f"dossier.pickup_{procedure_code.replace('.', '_')}"
    if has(key):
        return text(key)
    result = ""
    if catalog is not None:
        try:
            procedure = catalog.get(procedure_code)
        except KeyError:
            procedure = None
        result = str(getattr(procedure, "result", "") or "") if procedure is not None else ""
    if result.startswith("Cập nhật thông tin trong Cơ sở dữ liệu"):
        return text("dossier.pickup_database")
    first = result.split(";")[0].strip().rstrip(".")
    if first and len(first) <= 120:
        return text("dossier.pickup_document", result=first, agency=Agency.load().name)
    return text("dossier.pickup_default", agency=Agency.load().name)


def is_overdue(dossier: Dossier, today: date) -> bool:
    """Derived, never stored: a promised date has passed and the centre has not finished."""
    return (dossier.status not in CLOSED_STATUSES and dossier.appointment_date is not None
            and dossier.appointment_date < today)


def is_owner(dossier: Dossier, conversation: Conversation | None) -> bool:
    return (conversation is not None and dossier.channel == conversation.channel
            and dossier.user_id == conversation.user_id)


def lookup(session: Session, code: str, conversation: Conversation | None, *,
           now: datetime | None = None) -> StatusView | None:
    """The status of the dossier with this reference or official code as `conversation` may see it."""
    dossier = find_dossier(session, code)
    if dossier is None:
        return None
    owner = is_owner(dossier, conversation)
    day = local_today(now or utcnow())
    view = StatusView(
        code=shown_code(dossier),
        status=dossier.status,
        status_label=status_label(dossier.status),
        appointment_date=dossier.appointment_date,
        overdue=is_overdue(dossier, day),
        owner=owner,
        reference=dossier.code,
        estimated_date=dossier.estimated_date,
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
        when = date_line(d.appointment_date, d.estimated_date, d.status)
        lines.append(text("dossier.list_item", code=shown_code(d),
                          procedure=d.procedure_name or d.procedure_code, status=status, appointment=when))
    return [Reply.say("\n".join(lines))]
