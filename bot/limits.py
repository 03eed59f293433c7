"""Abuse limits on the public endpoints (web chat, webhooks, staff login), with Flask-Limiter.

Every limit is a setting in the `limits` notation ("20/minute;300/hour"), counted in fixed windows:
- web chat messages and uploads share three budgets: per visitor (the signed cookie), per IP and for
  everyone together; uploads have their own, smaller per-visitor budget; polling its own, larger one;
- a new visitor (the page handing out a cookie) per IP, so cookies cannot be minted without bound;
- webhooks per channel, far above any platform's real rate (they retry what we refuse);
- the staff login form per IP (the per-account lock-out is bot/staff/auth.py).
Over a limit: JSON with a polite message for the chat API, a short HTML page for the pages, plain text
with Retry-After for webhooks.

Where the counts live (RATE_LIMIT_STORAGE_URI): empty means this process's memory, exact for the embedded
default (`motcua run` is one gunicorn process whose request threads share the counters). Several serving
processes or machines must share a storage, e.g. redis://127.0.0.1:6379/0; otherwise each process counts
alone and a limit is multiplied by the number of processes (logged at start when EMBEDDED_WORKERS is off).
When the shared storage does not answer, counting falls back to memory instead of failing requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from bot.config import Settings
from bot.templates import text
from bot.web import chat
from bot.web.webhooks import PREFIX, WEBHOOK_CHANNELS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

CHAT_API = ("chat.post_message", "chat.upload")


def _everyone() -> str:
    return "everyone"


def storage_uri(settings: Settings) -> str:
    return settings.rate_limit_storage_uri or "memory://"


def check_settings(settings: Settings) -> None:
    """Refuse to start with a limit that does not parse (a typo must not silently mean "no limit")."""
    for name, value in vars(settings).items():
        if name.startswith("rate_limit_") and name != "rate_limit_storage_uri":
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(f"{name.upper()}={value!r} is not a limit such as '20/minute'") from None


def register(app: Flask, settings: Settings) -> Limiter:
    """Attach the limits to the registered endpoints (by name) and the webhook front door."""
    check_settings(settings)
    if not settings.rate_limit_storage_uri and not settings.embedded_workers:
        log.warning("rate limits are counted per process: set RATE_LIMIT_STORAGE_URI (e.g. redis://...) "
                    "when several processes serve")
    limiter = Limiter(
        get_remote_address, app=app, storage_uri=storage_uri(settings), strategy="fixed-window",
        headers_enabled=True, swallow_errors=True, key_prefix="motcua",
        in_memory_fallback_enabled=bool(settings.rate_limit_storage_uri),
    )
    shared = (
        limiter.shared_limit(settings.rate_limit_chat_visitor, "chat-visitor", key_func=chat.visitor_key),
        limiter.shared_limit(settings.rate_limit_chat_ip, "chat-ip"),
        limiter.shared_limit(settings.rate_limit_chat_global, "chat-everyone", key_func=_everyone),
    )
    for endpoint in CHAT_API:
        _limit(app, endpoint, shared)
    _limit(app, "chat.upload", [limiter.limit(settings.rate_limit_upload, key_func=chat.visitor_key)])
    _limit(app, "chat.messages", [limiter.limit(settings.rate_limit_chat_poll, key_func=chat.visitor_key)])
    _limit(app, "chat.page", [limiter.limit(settings.rate_limit_new_visitor, exempt_when=chat.has_visitor)])
    _limit(app, "staff.login", [limiter.limit(settings.rate_limit_login, methods=["POST"])])
    app.register_error_handler(RateLimitExceeded, too_many)
    app.wsgi_app = WebhookLimit(  # type: ignore[method-assign]
        app.wsgi_app, limiter, parse_many(settings.rate_limit_webhook))
    return limiter


def _limit(app: Flask, endpoint: str, decorators: Iterable[Callable[[Any], Any]]) -> None:
    view = app.view_functions[endpoint]
    for decorate in decorators:
        view = decorate(view)
    app.view_functions[endpoint] = view


def too_many(exc: RateLimitExceeded) -> Response:
    """The 429 answer: JSON for the chat API, a short polite page for the page and the login form."""
    if request.path.startswith("/chat/"):
        resp = jsonify(error=text("channels.web_rate_limited"))
    else:
        key = "channels.login_rate_limited" if request.path.startswith("/staff") else \
            "channels.web_page_rate_limited"
        resp = Response(render_template("limited.html", title=text("channels.rate_limited_title"),
                                        message=text(key)))
    resp.status_code = 429
    return resp


class WebhookLimit:
    """WSGI middleware in front of the webhook endpoint (which bypasses Flask): POST /webhooks/<channel>
    counted per channel, answered 429 with Retry-After before the body is read."""

    def __init__(self, app: WSGIApplication, limiter: Limiter, items: list[RateLimitItem]) -> None:
        self.app, self.limiter, self.items = app, limiter, items

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        channel = path[len(PREFIX):] if path.startswith(PREFIX) else ""
        if environ.get("REQUEST_METHOD") == "POST" and channel in WEBHOOK_CHANNELS and not self._hit(channel):
            body = b"too many requests"
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                ("Retry-After", "1")])
            return [body]
        return self.app(environ, start_response)

    def _hit(self, channel: str) -> bool:
        try:
            return all([self.limiter.limiter.hit(item, "motcua", "webhook", channel) for item in self.items])
        except Exception:  # a storage that does not answer must not drop platform traffic
            log.exception("webhook rate limit storage failed; request let through")
            return True
