"""Integration API for the agency's one-stop system (`/api/v1`), authenticated with `Bearer API_TOKEN`.

A status change here calls the same `change_status` as the console: same history, audit entry and
citizen notification. The contract is documented in `openapi.yaml`, served at `/api/v1/openapi.json`.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, g, jsonify, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from bot.agency import local_today
from bot.db import utcnow
from bot.dossier import LABELS_KEY, find_dossier, is_overdue, local_zone, shown_code, status_label
from bot.dossier_workflow import InvalidTransition, change_status
from bot.models import Dossier, DossierDocument
from bot.models.dossier import STATUSES
from bot.numbers import to_int
from bot.staff import audit, files
from bot.storable import is_storable

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
SPEC = Path(__file__).with_name("openapi.yaml")
MAX_LIMIT = 500


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def db() -> Session:
    if "api_db" not in g:
        g.api_db = current_app.extensions["motcua"].sessions()
    return g.api_db  # type: ignore[no-any-return]


@bp.before_request
def _authenticate() -> tuple[Response, int] | None:
    expected = current_app.extensions["motcua"].settings.api_token
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        log.warning("api: rejected request to %s (missing or wrong token)", request.endpoint)
        response, status = _error(401, "missing or wrong API token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="motcua"'
        return response, status
    return None


@bp.teardown_request
def _close(_exc: BaseException | None) -> None:
    session = g.pop("api_db", None)
    if session is not None:
        session.close()


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    """JSON for every error under /api, never an HTML page."""
    return _error(exc.code or 500, exc.description or exc.name)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _summary(d: Dossier, now: datetime) -> dict[str, Any]:
    return {
        "code": shown_code(d),
        "reference": d.code,
        "official_code": d.official_code,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "status": d.status,
        "status_label": status_label(d.status),
        "received_at": _iso(d.received_at),
        "appointment_date": d.appointment_date.isoformat() if d.appointment_date else None,
        "estimated_date": d.estimated_date.isoformat() if d.estimated_date else None,
        "accepted_at": _iso(d.accepted_at),
        "updated_at": _iso(d.updated_at),
        "overdue": is_overdue(d, local_today(now)),
    }


def _detail(d: Dossier, now: datetime) -> dict[str, Any]:
    documents = []
    for doc in d.documents:
        stored = doc.file
        documents.append(
            {
                "item": doc.item,
                "not_applicable": doc.not_applicable,
                "supplement": doc.supplement,
                "from_card": doc.from_card,
                "content_type": stored.content_type if stored else None,
                "size": stored.size if stored else None,
                "sha256": stored.sha256 if stored else None,
                "url": url_for("api.document_file", name=stored.storage_name, _external=True)
                if stored
                else None,
            }
        )
    history = [
        {
            "status": h.status,
            "status_label": status_label(h.status),
            "note": h.note,
            "actor": h.actor,
            "at": _iso(h.created_at),
        }
        for h in d.history
    ]
    return {
        **_summary(d, now),
        "channel": d.channel,
        "applicant": {k: v for k, v in (d.applicant or {}).items() if not k.startswith("_")},
        "applicant_labels": dict((d.applicant or {}).get(LABELS_KEY) or {}),
        "phone": d.phone,
        "status_note": d.status_note,
        "supplement_items": d.supplement_items or [],
        "documents": documents,
        "history": history,
    }


def _parse_since(raw: str) -> datetime | None:
    """ISO date (local midnight) or ISO datetime (UTC if no offset); None if neither."""
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time.min, local_zone())
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # within hours of year 1 or 9999: before or after every dossier
        return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)


@bp.get("/dossiers")
def list_dossiers() -> Response | tuple[Response, int]:
    query = select(Dossier)
    status = request.args.get("status")
    if status is not None:
        if status not in STATUSES:
            return _error(422, f"unknown status {status[:40]!r}; one of {', '.join(STATUSES)}")
        query = query.where(Dossier.status == status)
    since_raw = request.args.get("since")
    if since_raw is not None:
        since = _parse_since(since_raw.strip())
        if since is None:
            return _error(422, "since must be an ISO 8601 date or date-time")
        query = query.where(Dossier.updated_at >= since)
    limit = to_int(request.args.get("limit", "100"), low=1, high=MAX_LIMIT)
    if limit is None:
        return _error(422, f"limit must be 1..{MAX_LIMIT} in ASCII digits")
    now = utcnow()
    rows = db().scalars(query.order_by(Dossier.updated_at, Dossier.id).limit(limit)).all()
    return jsonify(dossiers=[_summary(d, now) for d in rows], count=len(rows))


def _find(code: str) -> Dossier | None:
    """By the online reference or the official code."""
    return find_dossier(db(), code)


@bp.get("/dossiers/<code>")
def get_dossier(code: str) -> Response | tuple[Response, int]:
    session = db()
    dossier = _find(code)
    if dossier is None:
        return _error(404, "unknown dossier code")
    body = _detail(dossier, utcnow())
    audit.record(session, None, "dossier.view", "dossier", dossier.code, "api: applicant, documents, history")
    session.commit()
    return jsonify(body)


@bp.post("/dossiers/<code>/status")
def set_status(code: str) -> Response | tuple[Response, int]:
    session = db()
    dossier = _find(code)
    if dossier is None:
        return _error(404, "unknown dossier code")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
        return _error(422, 'body must be JSON {"status": "<code>", "note": "..."}')
    note = payload.get("note")
    items = payload.get("items")
    if note is not None and not (isinstance(note, str) and is_storable(note)):
        return _error(422, "note must be a string (without NUL or unpaired surrogates)")
    if items is not None and (not isinstance(items, list)
                              or not all(isinstance(i, str) and is_storable(i) for i in items)):
        return _error(422, "items must be a list of strings")
    official = payload.get("official_code")
    if official is not None and not (isinstance(official, str) and is_storable(official)):
        return _error(422, "official_code must be a string")
    raw_date = payload.get("appointment_date")
    appointment = None
    if raw_date is not None:
        try:
            is_day = isinstance(raw_date, str) and len(raw_date) == 10
            appointment = date.fromisoformat(raw_date) if is_day else None
        except ValueError:
            appointment = None
        if appointment is None:
            return _error(422, "appointment_date must be an ISO 8601 date (YYYY-MM-DD)")
    try:
        change_status(session, dossier, payload["status"], note, "api", utcnow(), items=items,
                      official_code=official, appointment=appointment)
    except InvalidTransition as exc:
        session.rollback()
        return _error(422, str(exc))
    session.commit()
    return jsonify(_detail(dossier, utcnow()))


@bp.get("/files/<name>")
def document_file(name: str) -> Response | tuple[Response, int]:
    session = db()
    found = files.find(session, current_app.extensions["motcua"].settings, name)
    stored, path = found or (None, None)
    linked = (
        stored is not None
        and session.scalars(select(DossierDocument.id).where(DossierDocument.file_id == stored.id)).first()
        is not None
    )
    if stored is None or path is None or not linked:
        return _error(404, "unknown document")
    audit.record(session, None, "file.download", "file", stored.id, "api")
    session.commit()
    return send_file(path, mimetype=stored.content_type, as_attachment=True, download_name=name, max_age=0)


@bp.route("/<path:_unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(_unknown: str) -> tuple[Response, int]:
    """Unmatched paths under /api/v1 answer in JSON like the rest of the API (after the token check)."""
    return _error(404, "no such endpoint")


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(_spec())
