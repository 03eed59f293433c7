"""Lifecycle test helpers: conversations with drafts and files, put in place directly in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.db import transaction
from bot.document import accept_upload, path_of
from bot.models import Message, OutboxMessage
from bot.services import Services
from bot.transcript import conversation_for
from tests.dialogue.chat import PDF, png

# A fixed "now" for the jobs: the tests never depend on the wall clock.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FLOW, STEP, TITLE = "gia_han_tam_tru", "van_ban_de_nghi", "Gia hạn tạm trú"


def draft_state(file_ids: list[int], updated: datetime, *,
                pending: list[int] | None = None) -> dict[str, Any]:
    """A conversation state waiting at a documents step of a real flow, holding `file_ids`."""
    return {
        "disclosed": True,
        "active": {"flow": FLOW, "step": STEP, "display": {},
                   # the list-registration branch, where this document is asked
                   "slots": {"ho_ten": "Nguyễn Văn An",
                             "registration_mode": "Theo danh sách (cơ quan, tổ chức, nhiều người)"},
                   "docs": {"giay_to_khac": {"files": file_ids, "none": False}},
                   "pending_files": pending or [], "history": [], "invalid": 0, "said": [],
                   "started_at": updated.isoformat(), "updated_at": updated.isoformat()},
        "resume_offered": True,
    }


def with_draft(services: Services, user: str, age: timedelta, *, files: int = 1,
               channel: str = "zalo") -> tuple[int, list[Path]]:
    """A conversation whose draft was last touched `age` before NOW, with `files` stored files."""
    settings = services.settings
    with transaction(services.sessions) as s:
        conv = conversation_for(s, channel, user)
        conv.last_inbound_at = NOW - age
        stored = [accept_upload(s, settings, png() if i % 2 == 0 else PDF, conv) for i in range(files)]
        conv.state = draft_state([f.id for f in stored], NOW - age)
        s.add(Message(conversation_id=conv.id, direction="in", author="citizen", text="Nguyễn Văn An"))
        return conv.id, [path_of(settings, f) for f in stored]


def files_on_disk(settings: Settings) -> list[Path]:
    """Every file under FILES_DIR (web uploads included)."""
    root = Path(settings.files_dir)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(services: Services, model: type[Any], *where: Any) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def outbox_texts(services: Services, conversation_id: int) -> list[str]:
    with services.sessions() as s:
        return [r["text"] for r in s.scalars(select(OutboxMessage.reply)
                                            .where(OutboxMessage.conversation_id == conversation_id)
                                            .order_by(OutboxMessage.id))]

