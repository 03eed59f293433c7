"""`/staff/dashboard`: the centre's figures for a period, with charts and the numbers behind each as CSV.

The figures come from `bot.insight.stats` (the same as `GET /api/v1/stats`); results by officer only for
admins. Charts are drawn in the browser by the vendored Chart.js (`bot/static/vendor/chartjs`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from bot.agency import Agency
from bot.db import utcnow
from bot.insight.stats import Period, PeriodError, Stats, channels_of
from bot.staff.views import bp, db, me

CHANNELS = ("zalo", "facebook", "web", "console")


def _period(agency: Agency) -> Period:
    args = request.args
    name = args.get("period") or "7d"
    custom = name == "custom"
    return Period.parse(agency.local(utcnow()).date(), None if custom else name,
                        args.get("from") if custom else None, args.get("to") if custom else None,
                        args.get("channel") if args.get("channel") in CHANNELS else None)


def _figures() -> tuple[Period, dict[str, Any]] | tuple[None, str]:
    agency = Agency.load()
    try:
        period = _period(agency)
    except PeriodError as exc:
        return None, str(exc)
    return period, Stats(db(), agency, period, utcnow()).figures(by_officer=me().is_admin)


@bp.get("/dashboard")
def dashboard() -> str | tuple[str, int]:
    period, figures = _figures()
    if period is None:
        return render_template("staff/dashboard.html", error=figures, figures=None, args=request.args,
                               channels=CHANNELS), 422
    return render_template("staff/dashboard.html", error=None, figures=figures, args=request.args,
                           channels=CHANNELS, series_channels=channels_of(figures["messages_per_day"]))


def csv_tables(figures: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The numbers behind each chart (and the tables), as header + rows."""
    channels = channels_of(figures["messages_per_day"])
    waits, dossiers = figures["first_response_seconds"], figures["dossiers"]
    return {
        "messages": (["day", *channels],
                     [[r["day"], *(r.get(c, 0) for c in channels)] for r in figures["messages_per_day"]]),
        "dossiers": (["procedure_code", "procedure_name", "count"],
                     [[p["code"], p["name"], p["count"]] for p in dossiers["per_procedure"]]),
        "dossiers_per_day": (["day", "count"], [[d["day"], d["count"]] for d in dossiers["per_day"]]),
        "response": (["hours", "count", "median_seconds", "p90_seconds"],
                     [[k, waits[k]["count"], waits[k]["median"], waits[k]["p90"]]
                      for k in ("all", "opening_hours", "outside_hours")]),
        "handoffs": (["reason", "count"], [[r, n] for r, n in figures["handoffs_by_reason"].items()]),
        "funnel": (["status", "count"], [[s, n] for s, n in figures["dossiers"]["status_funnel"].items()]),
    }


@bp.get("/dashboard/<name>.csv")
def dashboard_csv(name: str) -> Response | tuple[str, int]:
    period, figures = _figures()
    if period is None:
        return figures, 422
    tables = csv_tables(figures)
    if name not in tables:
        abort(404)
    header, rows = tables[name]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    filename = f"{name}-{period.first}-{period.last}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
