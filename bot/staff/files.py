"""Files officers send to citizens, and the stored files the console and the API serve.

An officer's upload goes through `bot.document` like a citizen's document (type from the content, size
cap, images large enough to read, stored under a generated name with its SHA-256); the platforms reach
it only through a signed link (`/outgoing/<name>/<signature>`).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import document
from bot.config import Settings
from bot.models import Conversation, StoredFile

# What every channel shows natively: images inline, PDF as a file (no HEIC, which a phone may not open).
OUTGOING_TYPES = ("image/jpeg", "image/png", "application/pdf")
# Officer-facing wording of bot.document's refusal reasons; the limits come with the refusal.
REFUSALS = {
    "empty": "Tệp rỗng.",
    "too_large": "Tệp quá lớn (tối đa {max_mb} MB).",
    "unsupported_type": "Chỉ gửi được ảnh hoặc tệp dạng {types}.",
    "too_small": "Ảnh quá nhỏ, công dân sẽ không đọc được (cạnh ngắn tối thiểu {min_side} điểm ảnh).",
}


class UploadRejected(ValueError):
    """Shown to the officer: wrong type, empty, too small or too large."""


def store_upload(session: Session, settings: Settings, data: bytes, conversation: Conversation) -> StoredFile:
    """The same content checks and storage as citizens' documents (`bot.document.accept_upload`)."""
    try:
        return document.accept_upload(session, settings, data, conversation, accept=OUTGOING_TYPES)
    except document.Refusal as exc:
        message = REFUSALS.get(exc.reason, "Không nhận được tệp.")
        raise UploadRejected(message.format(**exc.params)) from None


def find(session: Session, settings: Settings, storage_name: str) -> tuple[StoredFile, Path] | None:
    """The stored file of this (generated) name and its path; None for an unknown name or a missing file."""
    stored = session.scalars(select(StoredFile).where(StoredFile.storage_name == storage_name)).first()
    if stored is None:
        return None
    path = document.path_of(settings, stored)
    return (stored, path) if path.is_file() else None


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
