"""The terminal channel behind `motcua chat`: replies printed as text, buttons as numbered lines."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from bot.messages import Button, Reply
from connectors.base import Connector, numbered_text
from connectors.http import PlatformSession

if TYPE_CHECKING:
    from bot.models import OutboxMessage
    from bot.services import Services


class ConsoleConnector(Connector):
    name = "console"

    def __init__(self, services: Services, out: TextIO | None = None) -> None:
        super().__init__(services)
        self.out = out or sys.stdout
        self.last_buttons: tuple[Button, ...] = ()  # typing a number picks one of these

    def render(self, reply: Reply, target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [{"text": numbered_text(reply)}]

    def send(self, item: OutboxMessage, client: PlatformSession, target: dict[str, Any]) -> str:
        reply = Reply.from_dict(item.reply)
        if reply.buttons:
            self.last_buttons = reply.buttons
        for part in self.render(reply, target):
            prefix = "cán bộ" if reply.author == "staff" else "bot"
            lines = part["text"].splitlines() or [""]
            self.out.write(f"{prefix}> {lines[0]}\n" + "".join(f"     {line}\n" for line in lines[1:]))
        self.out.flush()
        return f"console:{item.id}"
