"""The web chat channel: the page at `/` polls for what the dispatcher marked as sent."""

from __future__ import annotations

import os
import re
import uuid
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


# A web-chat upload lives at FILES_DIR/web/<visitor>/<key>; older uploads (before per-visitor folders) at
# FILES_DIR/web/<key>. Both names are generated: the visitor id is a hash, the key random.
UPLOAD_URL = re.compile(r"/chat/uploads/(?:(w[0-9a-f]{32})/)?([0-9a-f]{32})$")


def upload_path(settings: Settings, visitor: str | None, key: str) -> Path:
    """Where the upload `key` of `visitor` (None for the older, flat uploads) is kept."""
    folder = settings.files_dir / "web"
    return folder / visitor / key if visitor else folder / key


def web_upload_path(url: str, settings: Settings) -> Path | None:
    """The local file behind a web-chat upload URL (`/chat/uploads/...`), so it is read, not downloaded.

    Only the generated names are taken from the URL; the file must exist under FILES_DIR/web.
    """
    match = UPLOAD_URL.search(url or "")
    if not match:
        return None
    path = upload_path(settings, match.group(1), match.group(2))
    return path if path.is_file() else None


def upload_usage(settings: Settings, visitor: str) -> tuple[int, int]:
    """(files, bytes) a visitor's uploads take on disk: what the per-conversation quota counts."""
    folder = settings.files_dir / "web" / visitor
    sizes = [entry.stat().st_size for entry in folder.iterdir() if entry.is_file()] if folder.is_dir() else []
    return len(sizes), sum(sizes)


def save_upload(settings: Settings, visitor: str, data: bytes) -> str:
    """Keep checked upload bytes under a new random key (never the name the visitor sent); returns the key."""
    key = uuid.uuid4().hex
    path = upload_path(settings, visitor, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError:  # e.g. the disk is full: keep nothing half-written
        path.unlink(missing_ok=True)
        raise
    return key


def upload_url(public_base_url: str, visitor: str, key: str) -> str:
    """The attachment link officers and the document step see: under PUBLIC_BASE_URL, else relative.

    Never built from the request's Host header, which the sender chooses.
    """
    return f"{public_base_url.rstrip('/')}/chat/uploads/{visitor}/{key}"
