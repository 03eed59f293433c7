"""`/webhooks/<channel>`: verify, store, acknowledge. The bot's answer is sent later by the dispatcher."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from bot.pipeline.ingest import ingest
from connectors.base import Connector, WebhookRequest
from connectors.facebook import FacebookConnector

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
WEBHOOK_CHANNELS = ("zalo", "facebook")


def _connector(channel: str) -> Connector | None:
    if channel not in WEBHOOK_CHANNELS:
        return None
    connectors: dict[str, Connector] = current_app.extensions["motcua.connectors"]
    return connectors.get(channel)  # None when the channel has no credentials


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.get("/<channel>")
def subscribe(channel: str) -> Response:
    """Messenger subscription check (hub.mode / hub.verify_token / hub.challenge)."""
    connector = _connector(channel)
    if not isinstance(connector, FacebookConnector):
        return _text("not found", 404)
    challenge = connector.subscription_challenge(request.args.to_dict())
    return _text(challenge, 200) if challenge is not None else _text("forbidden", 403)


@bp.post("/<channel>")
def receive(channel: str) -> Response:
    connector = _connector(channel)
    if connector is None:
        return _text("not found", 404)
    raw = request.get_data(cache=False)  # the exact bytes: signatures are computed over them
    webhook = WebhookRequest(body=raw, headers=dict(request.headers), args=request.args.to_dict())
    ack = ingest(current_app.extensions["motcua"], connector, webhook)
    return _text(ack.body, ack.status)
