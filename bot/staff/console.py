"""The staff console mounted on the app: the blueprint of `bot.staff.views` with the routes of every
console module (conversations, dossiers, admin pages, outgoing files), and the session cookie it relies on."""

from __future__ import annotations

import logging
import secrets

from flask import Flask

from bot.config import Settings
from bot.staff import (  # noqa: F401 (their routes register on `bp`)
    admin,
    auth,
    dashboard,
    dossier_views,
    escalations,
    failed_events,
    notices,
    review,
)
from bot.staff.outgoing import bp as outgoing_bp
from bot.staff.views import bp

log = logging.getLogger(__name__)


def register(app: Flask, settings: Settings) -> None:
    """Mount the console and configure the session cookie it relies on."""
    if not app.secret_key:
        log.warning("SECRET_KEY is not set: staff sessions use a random key and end when the process stops")
        app.secret_key = secrets.token_urlsafe(32)
    app.config.update(
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME,
    )
    app.register_blueprint(bp)
    app.register_blueprint(outgoing_bp)
