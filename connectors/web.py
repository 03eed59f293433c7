"""The web chat channel: the page at `/` polls for what the dispatcher marked as sent."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings
from bot.messages import Reply
from connectors.base import Connector, Message, Target
from connectors.http import PlatformSession


class WebConnector(Connector):
    """The page renders every kind itself, so a reply goes out as it is; sending is recording it as sent
    (the page polls the outbox)."""

    name = "web"

    @classmethod
    def shows_buttons(cls, reply: Reply) -> bool:
        return True

    def render(self, reply: Reply, target: Target | None = None) -> list[Message]:
        return [reply.to_dict()]

    def post(self, message: Message, target: Target, http: PlatformSession) -> str:
        return f"web:{target.ref}"


UPLOAD_KEY = re.compile(r"/chat/uploads/([0-9a-f]{32})$")


def web_upload_path(url: str, settings: Settings) -> Path | None:
    """The local file behind a web-chat upload URL (`/chat/uploads/<key>`), so it is read, not downloaded.

    Only the generated 32-hex key is taken from the URL; the file must exist under FILES_DIR/web.
    """
    match = UPLOAD_KEY.search(url or "")
    if not match:
        return None
    path = settings.files_dir / "web" / match.group(1)
    return path if path.is_file() else None
