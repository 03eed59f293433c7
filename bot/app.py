"""Flask application factory."""

from __future__ import annotations

import gc
import logging
from typing import Any

from flask import Flask, current_app, jsonify, request
from sqlalchemy import text

from bot.config import Settings
from bot.db import upgrade
from bot.numbers import IdConverter
from bot.services import Services
from bot.storable import unstorable_request

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, start_workers: bool | None = None,
               dialogue: Any = None) -> Flask:
    """Build the app; the schema is migrated on start so a fresh clone needs no extra step.

    `dialogue`: the dialogue manager its turns run (see `bot.services`); None: the flow engine."""
    settings = settings or Settings.load()
    services = Services.build(settings, dialogue=dialogue)
    upgrade(services.engine)

    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(SECRET_KEY=settings.secret_key or None, MAX_CONTENT_LENGTH=settings.max_upload_bytes)
    app.extensions["motcua"] = services
    app.url_map.converters["int"] = IdConverter  # route ids are read like every other number

    @app.before_request
    def _refuse_unstorable():  # type: ignore[no-untyped-def]
        """NUL in a path, query or form field would fail the database lookup with a 500: a 400 instead."""
        if unstorable_request(request):
            return jsonify(error="the request holds a NUL character, which no field accepts"), 400
        return None

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        db_ok = True
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not answering"
            log.exception("health check: database does not answer")
            db_ok = False
        nlu_ok = services.nlu.available()
        ready = db_ok and nlu_ok  # what `make run` waits for before it says "ready"
        body = {"status": "ok" if ready else "degraded", "ready": ready, "database": db_ok, "nlu": nlu_ok}
        return jsonify(body), 200

    from bot.api.mount import register as register_api
    from bot.staff.console import register as register_staff

    register_staff(app, settings)
    register_api(app)
    _register_channels(app, services, settings, start_workers)
    from bot.limits import register as register_limits

    register_limits(app, settings)
    return app


def _register_channels(
    app: Flask, services: Services, settings: Settings, start_workers: bool | None
) -> None:
    """Webhooks and the web chat; the embedded pipeline threads unless EMBEDDED_WORKERS is off."""
    from bot.pipeline.runner import Runner
    from bot.web import chat, webhooks
    from connectors import build_connectors

    connectors = build_connectors(services)
    app.extensions["motcua.connectors"] = connectors
    app.register_blueprint(webhooks.bp)
    app.wsgi_app = webhooks.WebhookEndpoint(app.wsgi_app, services, connectors)  # type: ignore[method-assign]
    app.register_blueprint(chat.bp)
    if settings.embedded_workers and start_workers is not False:
        app.extensions["motcua.runner"] = Runner(
            services, connectors, processors=settings.worker_threads, dispatchers=1
        ).start()
        from bot.lifecycle import start_scheduler

        app.extensions["motcua.maintenance"] = start_scheduler(services)


def services() -> Services:
    """The services of the running app (inside a request or app context)."""
    return current_app.extensions["motcua"]  # type: ignore[no-any-return]


def freeze_startup_objects() -> None:
    """For serving processes, once start-up is done: what it built (app, catalogue, flows, templates,
    SQLAlchemy mappers) lives as long as the process, so keep it out of the cyclic garbage collector.

    A full collection walks every tracked object while holding the GIL: under load it paused every request
    thread of a web process for 120-145 ms, once every few thousand requests (all acks of that moment
    late). Not done in create_app itself: tests build many apps, and frozen objects are never freed.
    """
    gc.collect()
    gc.freeze()

