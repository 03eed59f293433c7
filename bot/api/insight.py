"""`/api/v1/stats` and `/api/v1/nlu/review`: the dashboard's figures and the review inbox for the one-stop
system, on the same blueprint (and Bearer token check) as the dossier endpoints."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.wrappers import Response

from bot.agency import Agency
from bot.api.views import _error, bp, db
from bot.db import utcnow
from bot.insight.stats import Period, PeriodError, Stats


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
