"""Files officers send to citizens: checked by content, stored under a generated name like citizens'
documents, and reachable by the platforms only through a signed link (`/outgoing/<name>/<signature>`)."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from sqlalchemy.orm import Session

from bot import document
from bot.config import Settings
from bot.models import Conversation, StoredFile

# What every channel shows natively: images inline, PDF as a file.
OUTGOING_TYPES = ("image/jpeg", "image/png", "application/pdf")
STORAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{8,64}(\.[a-z0-9]{1,5})?$")
REFUSALS = {
    "empty": "Tệp rỗng.",
    "too_large": "Tệp quá lớn.",
    "unsupported_type": "Chỉ gửi được ảnh JPEG, PNG hoặc tệp PDF.",
    "too_small": "Ảnh quá nhỏ, công dân sẽ không đọc được.",
}


class UploadRejected(ValueError):
    """Shown to the officer: wrong type, empty, too small or too large."""


def store_upload(session: Session, settings: Settings, data: bytes, conversation: Conversation) -> StoredFile:
    """The same content checks and storage as citizens' documents (`bot.document`)."""
    try:
        return document.accept_upload(session, settings, data, conversation, accept=OUTGOING_TYPES)
    except document.Refusal as exc:
        raise UploadRejected(REFUSALS.get(exc.reason, "Không nhận được tệp.")) from None


def file_path(settings: Settings, storage_name: str) -> Path | None:
    """The stored file's path, or None for a name that is not one of ours (no path tricks)."""
    if not STORAGE_NAME.match(storage_name):
        return None
    path = Path(settings.files_dir) / storage_name
    return path if path.is_file() else None


def signature(key: str | bytes, storage_name: str) -> str:
    """HMAC of the name with the app's secret key."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, f"outgoing:{storage_name}".encode(), hashlib.sha256).hexdigest()[:40]


def signature_valid(key: str | bytes | None, storage_name: str, given: str) -> bool:
    return bool(key) and hmac.compare_digest(signature(key or "", storage_name), given)


def outgoing_url(settings: Settings, key: str | bytes, storage_name: str, base_url: str) -> str:
    """Public link a platform downloads the file from; only files an officer sent are signed."""
    base = (settings.public_base_url or base_url).rstrip("/")
    return f"{base}/outgoing/{storage_name}/{signature(key, storage_name)}"
