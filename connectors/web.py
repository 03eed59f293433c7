"""The web chat channel: the page at `/` polls for what the dispatcher marked as sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from bot.messages import Reply
from connectors.base import Connector

if TYPE_CHECKING:
    from bot.models import OutboxMessage


class WebConnector(Connector):
    """The page renders buttons itself, so a reply goes out as it is; sending is recording it as sent."""

    name = "web"

    def render(self, reply: Reply, target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [reply.to_dict()]

    def send(self, item: OutboxMessage, client: requests.Session, target: dict[str, Any]) -> str:
        return f"web:{item.id}"
