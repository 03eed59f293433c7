"""The web chat channel: the page at `/` polls for what the dispatcher marked as sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.messages import Reply
from connectors.base import Connector
from connectors.http import PlatformSession

if TYPE_CHECKING:
    from bot.models import OutboxMessage


class WebConnector(Connector):
    """The page renders buttons itself, so a reply goes out as it is; sending is recording it as sent."""

    name = "web"

    def render(self, reply: Reply, target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [reply.to_dict()]

    def send(self, item: OutboxMessage, client: PlatformSession, target: dict[str, Any]) -> str:
        return f"web:{item.id}"


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
