"""Notifications in the staff console: citizens told nothing after their result was ready (to call them),
and for admins this month's Zalo, ZNS and SMS counts and their cost."""

from __future__ import annotations

from flask import render_template

from bot.db import utcnow
from bot.notify import report
from bot.notify.channels import describe
from bot.staff.views import app_settings, bp, db, me


@bp.get("/notifications")
def notifications() -> str:
    session = db()
    settings = app_settings()
    now = utcnow()
    month = report.this_month(session, settings, now) if me().is_admin else None
    return render_template("staff/notifications.html", silent=report.silent(session, now,
                                                                               settings.notify_silent_days),
                           days=settings.notify_silent_days, month=month, channels=describe(settings))
