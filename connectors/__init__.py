"""Channel connectors: one module per platform, all behind `connectors.base.Connector`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.messages import Reply
from connectors.base import Connector
from connectors.console import ConsoleConnector
from connectors.facebook import FacebookConnector
from connectors.web import WebConnector
from connectors.zalo import ZaloConnector

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

CONNECTORS: dict[str, type[Connector]] = {
    "zalo": ZaloConnector,
    "facebook": FacebookConnector,
    "web": WebConnector,
    "console": ConsoleConnector,
}


def build_connectors(services: Services, *, quiet: bool = False) -> dict[str, Connector]:
    """The enabled connectors; a channel without credentials is left out with one clear log line.

    The console channel is not among them: only the `motcua chat` process can print its replies.
    """
    built: dict[str, Connector] = {}
    for name, cls in CONNECTORS.items():
        if name == "console":
            continue
        missing = cls.missing_settings(services.settings)
        if missing:
            if not quiet:
                log.info("channel %s disabled: %s not set", name, ", ".join(missing))
            continue
        built[name] = cls(services)
    return built


def numbered_list(channel: str, replies: Sequence[Reply]) -> list[str | None]:
    """The payloads of the numbered list a turn's replies show on `channel`, in their order.

    That is the one reply with buttons, when the channel shows them as numbered lines (no native
    buttons); empty otherwise. Several replies with buttons (a long list cut into messages, an answer with
    buttons before the question asked again) are each numbered from 1, so a typed number would be
    ambiguous: none is remembered, and a flow step still reads numbers against its own list.
    A typed number picks from the list (`bot.messages.numbered_choice`).
    """
    connector = CONNECTORS.get(channel)
    with_buttons = [reply for reply in replies if reply.buttons]
    if connector is None or len(with_buttons) != 1 or connector.shows_buttons(with_buttons[0]):
        return []
    return [button.payload for button in with_buttons[0].buttons]


__all__ = ["CONNECTORS", "Connector", "build_connectors", "numbered_list"]
