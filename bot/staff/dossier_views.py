"""Dossiers in the console: list with filters and search, the dossier page, status changes (acceptance
with the official code and date, reschedules), documents, and the holiday-list warning on every page."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from bot.agency import Agency, local_today
from bot.db import utcnow
from bot.dossier import (
    applicant_fields,
    card_fields,
    find_dossier,
    is_overdue,
    local_zone,
    normalised_phone,
    shown_code,
    status_label,
)
from bot.dossier_workflow import InvalidTransition, allowed_next, change_status, overdue_clause
from bot.models import Conversation, Dossier, DossierDocument, Message
from bot.models.dossier import STATUSES
from bot.notify import report
from bot.numbers import query_int
from bot.staff import audit, files
from bot.staff.escalations import message_json
from bot.staff.views import app_settings, bp, db, me

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # (page - 1) * PAGE_SIZE stays a small OFFSET on every database
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))  # what a "from"/"to" filter can mean


_warned_on: set[date] = set()


@bp.app_context_processor
def _holiday_banner() -> dict[str, Any]:
    """The banner when the trusted holiday list ends within 60 days; logged once a day per process."""
    today = local_today(utcnow())
    warning = Agency.load().holiday_warning(today)
    if warning and today not in _warned_on:
        _warned_on.add(today)
        log.warning("holiday list in data/agency.yml is trusted only until %s: update it",
                    Agency.load().list_ends(today))
    return {"holiday_warning": warning}


# ---------------------------------------------------------------- dossiers


def _parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not DATE_RANGE[0] <= day <= DATE_RANGE[1]:  # 0001-01-01 has no local midnight in UTC
        flash(f"Ngày không hợp lệ: {raw[:20]}", "error")
        return None
    return day


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, local_zone())


@bp.get("/dossiers")
def dossiers() -> str:
    session = db()
    args = request.args
    query = select(Dossier)
    status = args.get("status", "")
    if status in STATUSES:
        query = query.where(Dossier.status == status)
    procedure = args.get("procedure", "").strip()
    if procedure:
        query = query.where(Dossier.procedure_code == procedure)
    start, end = _parse_date(args.get("from")), _parse_date(args.get("to"))
    if start:
        query = query.where(Dossier.received_at >= _local_start(start))
    if end:
        query = query.where(Dossier.received_at < _local_start(end + timedelta(days=1)))
    now = utcnow()
    if args.get("overdue"):
        query = query.where(overdue_clause(now))
    q = args.get("q", "").strip()[:60]
    if q:
        phone = normalised_phone(q)
        by_code = or_(Dossier.code.ilike(f"%{q}%"), Dossier.official_code.ilike(f"%{q}%"))
        query = query.where(or_(by_code, Dossier.phone == phone) if phone else by_code)
    page = query_int(args, "page", 1, low=1, high=MAX_PAGE)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Dossier.updated_at.desc(), Dossier.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    procedures = session.execute(
        select(Dossier.procedure_code, func.max(Dossier.procedure_name))
        .group_by(Dossier.procedure_code)
        .order_by(Dossier.procedure_code)
    ).all()
    if q:
        audit.record(session, me(), "dossier.search", "dossier", None, f"{total} result(s)")
        session.commit()
    return render_template(
        "staff/dossiers.html",
        rows=rows,
        total=total,
        page=page,
        pages=-(-total // PAGE_SIZE),
        statuses=STATUSES,
        procedures=procedures,
        args=args,
        overdue={d.id for d in rows if is_overdue(d, local_today(now))},
    )


def _dossier(code: str) -> Dossier:
    """The dossier by its online reference (the page's address) or its official code."""
    dossier = db().scalars(select(Dossier).where(Dossier.code == code)).first() or find_dossier(db(), code)
    if dossier is None:
        abort(404)
    return dossier


def _suggested_date(item: Dossier, now: datetime) -> date | None:
    """What acceptance would promise now; None beyond the trusted holiday list (the officer gives it)."""
    if item.status != "waiting_acceptance" or item.processing_value is None or not item.processing_unit:
        return None
    return Agency.load().promised_date(now, item.processing_value, item.processing_unit, local_today(now))


@bp.get("/dossiers/<code>")
def dossier(code: str) -> str:
    session = db()
    item = _dossier(code)
    conv = session.get(Conversation, item.conversation_id) if item.conversation_id else None
    messages = []
    if conv is not None:
        messages = [
            message_json(m)
            for m in session.scalars(
                select(Message)
                .where(Message.conversation_id == conv.id)
                .order_by(Message.id.desc())
                .limit(100)
            )
        ]
        messages.reverse()
    audit.record(session, me(), "dossier.view", "dossier", item.code, "applicant, documents, history")
    session.commit()
    return render_template(
        "staff/dossier.html",
        d=item,
        conv=conv,
        messages=messages,
        applicant=applicant_fields(item.applicant),
        from_card=card_fields(item.applicant),
        next_statuses=allowed_next(item.status),
        notifications=report.for_dossier(session, item.id),
        overdue=is_overdue(item, local_today(utcnow())),
        shown_code=shown_code(item),
        suggested_date=_suggested_date(item, utcnow()),
        list_ends=Agency.load().list_ends(local_today(utcnow())),
    )


@bp.post("/dossiers/<code>/status")
def dossier_status(code: str) -> Response:
    session = db()
    item = _dossier(code)
    form = request.form
    items = [line for line in (form.get("items") or "").splitlines() if line.strip()]
    raw_date = (form.get("appointment") or "").strip()
    appointment = _parse_date(raw_date) if raw_date else None
    if raw_date and appointment is None:
        return redirect(url_for("staff.dossier", code=item.code))
    try:
        change_status(
            session,
            item,
            form.get("status", ""),
            form.get("note"),
            audit.actor_name(me()),
            utcnow(),
            items=items,
            staff=me(),
            official_code=(form.get("official_code") or "")[:80] or None,
            appointment=appointment,
        )
    except InvalidTransition as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.dossier", code=item.code))
    session.commit()
    flash(f"Đã chuyển hồ sơ sang “{status_label(item.status)}” và báo cho công dân.", "ok")
    return redirect(url_for("staff.dossier", code=item.code))


@bp.get("/files/<name>")
def stored_file(name: str) -> Response:
    """A citizen's document or a sent file, inline (viewer) or as a download; logged-in staff only."""
    session = db()
    found = files.find(session, app_settings(), name)
    if found is None:
        abort(404)
    stored, path = found
    download = request.args.get("download") == "1"
    doc = session.scalars(select(DossierDocument).where(DossierDocument.file_id == stored.id)).first()
    audit.record(
        session,
        me(),
        "file.download" if download else "file.view",
        "file",
        stored.id,
        f"dossier document {doc.dossier_id}" if doc else None,
    )
    session.commit()
    response = send_file(
        path,
        mimetype=stored.content_type,
        as_attachment=download,
        download_name=name,
        conditional=False,
        max_age=0,
    )
    # Types are sniffed at intake (JPEG, PNG, HEIC, PDF); Chromium's PDF viewer refuses sandboxed frames.
    policy = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'"
    if stored.content_type != "application/pdf":
        policy += "; sandbox"
    response.headers["Content-Security-Policy"] = policy
    return response
