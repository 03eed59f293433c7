"""`/webhooks/<channel>`: verify, store, acknowledge. The bot's answer is sent later by the dispatcher.

POST is a plain WSGI handler in front of Flask (`WebhookEndpoint`): platforms send these at the highest
rate of any route and only read the status, and Flask's request context, routing and response objects
cost about as much CPU as verifying and storing the event (0.39 of 0.77 ms per webhook, measured). The
Messenger subscription check (GET) is an ordinary Flask view.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from bot.pipeline.ingest import Ack, ingest
from bot.services import Services
from connectors.base import Connector, WebhookRequest
from connectors.facebook import FacebookConnector

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
WEBHOOK_CHANNELS = ("zalo", "facebook")
PREFIX = "/webhooks/"
MAX_BODY_BYTES = 1024 * 1024  # a webhook carries ids and text, never the files themselves


def _connector(connectors: dict[str, Connector], channel: str) -> Connector | None:
    if channel not in WEBHOOK_CHANNELS:
        return None
    return connectors.get(channel)  # None when the channel has no credentials


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.get("/<channel>")
def subscribe(channel: str) -> Response:
    """Messenger subscription check (hub.mode / hub.verify_token / hub.challenge)."""
    connector = _connector(current_app.extensions["motcua.connectors"], channel)
    if not isinstance(connector, FacebookConnector):
        return _text("not found", 404)
    challenge = connector.subscription_challenge(request.args.to_dict())
    return _text(challenge, 200) if challenge is not None else _text("forbidden", 403)


class WebhookEndpoint:
    """WSGI middleware: answers `POST /webhooks/<channel>` itself and hands every other request to Flask."""

    def __init__(self, app: WSGIApplication, services: Services, connectors: dict[str, Connector]) -> None:
        self.app, self.services, self.connectors = app, services, connectors

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        channel = path[len(PREFIX):] if path.startswith(PREFIX) else ""
        if environ.get("REQUEST_METHOD") != "POST" or not channel or "/" in channel:
            return self.app(environ, start_response)
        connector = _connector(self.connectors, channel)
        if connector is None:
            ack = Ack(404, "not found")
        else:
            try:  # the exact bytes: signatures are computed over them
                raw = get_input_stream(environ, max_content_length=MAX_BODY_BYTES).read()
            except RequestEntityTooLarge:
                ack = Ack(413, "too large")
            else:
                ack = ingest(self.services, connector, WebhookRequest(
                    body=raw, headers=dict(EnvironHeaders(environ)), args=_first_values(environ)))
        body = ack.body.encode()
        start_response(f"{ack.status} {HTTPStatus(ack.status).phrase}", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]


def _first_values(environ: WSGIEnvironment) -> dict[str, Any]:
    """The query string as Flask's `request.args.to_dict()` gives it: the first value of each key."""
    args: dict[str, Any] = {}
    for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        args.setdefault(key, value)
    return args
