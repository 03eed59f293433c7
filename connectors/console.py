"""The terminal channel behind `motcua chat`: replies printed as text, buttons as numbered lines.

It keeps the base connector's degraded rendering throughout; typing a number picks a button as on every
channel (the turn does it, `bot.messages.numbered_choice`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from bot.messages import Reply
from connectors.base import Connector, Target
from connectors.http import PlatformSession

if TYPE_CHECKING:
    from bot.services import Services


class ConsoleConnector(Connector):
    name = "console"

    def __init__(self, services: Services, out: TextIO | None = None) -> None:
        super().__init__(services)
        self.out = out or sys.stdout

    def send(self, reply: Reply, target: Target, http: PlatformSession) -> list[str]:
        prefix = "cán bộ" if reply.author == "staff" else "bot"
        for part in self.render(reply, target):
            lines = part["text"].splitlines() or [""]
            self.out.write(f"{prefix}> {lines[0]}\n" + "".join(f"     {line}\n" for line in lines[1:]))
        self.out.flush()
        return [f"console:{target.ref}"]
