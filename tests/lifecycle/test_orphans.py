"""The orphan sweep: files no row names (a turn that rolled back) go once older than the grace period."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from bot.db import transaction, utcnow
from bot.lifecycle import sweep_orphans
from bot.messages import Attachment, Inbound
from bot.models import InboundEvent, StoredFile
from bot.services import Services
from bot.transcript import conversation_for
from bot.turn import run_turn
from tests.dialogue.chat import png

from .helpers import count, draft_state, files_on_disk


class _Neighbour(RuntimeError):
    """Another turn of the same round failed: the whole round's transaction rolls back."""


def _web_upload(services: Services, data: bytes) -> str:
    folder = Path(services.settings.files_dir) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    key = uuid.uuid4().hex
    (folder / key).write_bytes(data)
    return key


def test_file_of_a_rolled_back_turn_is_swept_after_the_grace_period(services: Services) -> None:
    grace = timedelta(minutes=services.settings.orphan_grace_minutes)
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "visitor")
        conv.state = draft_state([], utcnow())
    key = _web_upload(services, png())
    upload = Inbound("web", "visitor", "attachment", message_id="up-1",
                     attachments=(Attachment("image", f"http://127.0.0.1:8000/chat/uploads/{key}"),))
    with pytest.raises(_Neighbour), transaction(services.sessions) as s:
        run_turn(s, services, upload)
        raise _Neighbour
    stored = [p for p in files_on_disk(services.settings) if p.parent.name != "web"]
    assert len(stored) == 1 and count(services, StoredFile) == 0  # written, row rolled back

    assert sweep_orphans(services, utcnow()) == {"files_deleted": 0}  # younger than the grace period
    assert stored[0].exists()
    assert sweep_orphans(services, utcnow() + grace + timedelta(minutes=1)) == {"files_deleted": 2}
    assert files_on_disk(services.settings) == []  # the orphan and the web original no event waits for


def test_files_with_rows_and_uploads_still_waiting_are_kept(services: Services) -> None:
    from bot.document import accept_upload, path_of

    later = utcnow() + timedelta(minutes=services.settings.orphan_grace_minutes + 5)
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "keeper")
        kept = path_of(services.settings, accept_upload(s, services.settings, png(), conv))
    waiting = _web_upload(services, png())
    with transaction(services.sessions) as s:
        s.add(InboundEvent(channel="web", event_id="web:keeper:1", user_id="keeper", raw=waiting.encode(),
                           status="pending"))
    partial = Path(services.settings.files_dir) / f".{uuid.uuid4().hex}.png.part"  # a crash mid-write
    partial.write_bytes(b"\x89PNG")
    assert sweep_orphans(services, later) == {"files_deleted": 1}
    assert kept.exists() and (Path(services.settings.files_dir) / "web" / waiting).exists()
    assert not partial.exists()
    assert sweep_orphans(services, later) == {"files_deleted": 0}  # nothing left to do


def test_a_processed_web_upload_is_kept_for_the_draft_days(services: Services) -> None:
    """Staff may open it from the transcript; it goes with the other loose files after DRAFT_TTL_DAYS."""
    key = _web_upload(services, png())
    with transaction(services.sessions) as s:
        s.add(InboundEvent(channel="web", event_id="web:v:1", user_id="v", raw=key.encode(), status="done"))
    path = Path(services.settings.files_dir) / "web" / key
    soon = utcnow() + timedelta(minutes=services.settings.orphan_grace_minutes + 5)
    assert sweep_orphans(services, soon) == {"files_deleted": 0} and path.exists()
    later = utcnow() + timedelta(days=services.settings.draft_ttl_days, minutes=1)
    assert sweep_orphans(services, later) == {"files_deleted": 1} and not path.exists()
