"""`/api/v1/stats` and `/api/v1/nlu/review`: the dashboard's figures and the review inbox for the one-stop
system, on the same blueprint (and Bearer token check) as the dossier endpoints."""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from bot.agency import Agency
from bot.api.views import _error, bp, db
from bot.catalog.store import Catalog
from bot.db import utcnow
from bot.insight import review
from bot.insight.stats import Period, PeriodError, Stats
from bot.models import Message
from bot.numbers import MAX_ID, to_int
from bot.staff import audit


@bp.get("/stats")
def stats() -> Response | tuple[Response, int]:
    agency = Agency.load()
    now = utcnow()
    start, end = request.args.get("from"), request.args.get("to")
    if not start or not end:
        return _error(422, "from and to are required (YYYY-MM-DD, the agency's local days)")
    try:
        period = Period.parse(agency.local(now).date(), start=start, end=end,
                              channel=request.args.get("channel"))
    except PeriodError as exc:
        return _error(422, str(exc))
    return jsonify(Stats(db(), agency, period, now).figures())


@bp.get("/nlu/review")
def review_items() -> Response:
    """The review inbox: one item per group of similar unsure messages, newest first."""
    session = db()
    items = [item.to_json() for item in review.inbox(session, utcnow())]
    audit.record(session, None, "nlu.review_view", "message", None, f"api: {len(items)} group(s)")
    session.commit()
    return jsonify(items=items)


@bp.post("/nlu/review/<id>")
def review_label(id: str) -> Response | tuple[Response, int]:
    """Label (or dismiss) the group of similar messages shown under this message id.

    The id is read here, not by the route, so an id no message can have is a JSON 404 like any other."""
    message_id = to_int(id, low=1, high=MAX_ID)
    if message_id is None:
        return _error(404, "unknown message")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not (payload.get("dismiss") is True or "intent" in payload):
        return _error(422, 'body must be {"intent": "...", "procedure": "<code or null>"} '
                           'or {"dismiss": true}')
    procedure = payload.get("procedure")
    if procedure is not None and not isinstance(procedure, str):
        return _error(422, "procedure must be a code or null")
    session = db()
    settings = current_app.extensions["motcua"].settings
    if session.get(Message, message_id) is None:
        return _error(404, "unknown message")
    ids = review.group_of(session, message_id, utcnow())
    try:
        done = review.label(session, ids, intent=payload.get("intent"), procedure=procedure,
                            dismiss=payload.get("dismiss") is True, reviewer_id=None,
                            intents=review.known_intents(settings.data_dir),
                            procedures=Catalog.load(settings.data_dir))
    except review.ReviewError as exc:
        session.rollback()
        return _error(422, str(exc))
    audit.record(session, None, "nlu.label", "message", message_id, f"api: {done} message(s)")
    session.commit()
    return jsonify(labelled=done, message_ids=ids)
