"""Retention of finished dossiers' files and of transcripts, per the agency's setting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.document import accept_upload, path_of
from bot.dossier import DocumentEntry
from bot.lifecycle import Retention, apply_retention
from bot.models import Dossier, DossierDocument, InboundEvent, Message, OutboxMessage
from bot.services import Services
from bot.transcript import conversation_for
from tests.dialogue.chat import png
from tests.dialogue.test_dossier import make

from .helpers import NOW


def _citizen(s, services: Services, user: str, *, status: str | None, finished_days_ago: int = 0,
             said_days_ago: tuple[int, ...] = (400,)) -> dict:  # type: ignore[no-untyped-def]
    conv = conversation_for(s, "zalo", user)
    out: dict = {"conv": conv.id}
    if status is not None:
        stored = accept_upload(s, services.settings, png(), conv)
        dossier = make(s, user, NOW - timedelta(days=500), documents=[DocumentEntry("Tờ khai", stored.id)])
        dossier.status = status
        dossier.updated_at = NOW - timedelta(days=finished_days_ago)
        out.update(dossier=dossier.id, path=path_of(services.settings, stored))
    for n, days in enumerate(said_days_ago):
        at = NOW - timedelta(days=days)
        s.add(Message(conversation_id=conv.id, direction="in", author="citizen", text="CCCD 001090001234",
                      created_at=at))
        s.add(OutboxMessage(conversation_id=conv.id, channel="zalo", user_id=user, status="sent",
                            reply={"kind": "text", "text": "Dạ"}, created_at=at))
        s.add(InboundEvent(channel="zalo", event_id=f"{user}-{n}", user_id=user, raw=b'{"t":"CCCD"}',
                           inbound={"text": "CCCD"}, status="done", received_at=at))
    return out


def test_retention_follows_the_agency_setting(services: Services) -> None:
    days = Retention.load(services.settings.data_dir)
    assert days == Retention(finished_dossier_days=365, transcript_days=365)
    with transaction(services.sessions) as s:
        old = _citizen(s, services, "returned-long-ago", status="returned", finished_days_ago=400)
        recent = _citizen(s, services, "returned-lately", status="rejected", finished_days_ago=100)
        open_ = _citizen(s, services, "in-progress", status="processing", finished_days_ago=400)
        talk = _citizen(s, services, "questions-only", status=None, said_days_ago=(400, 10))

    result = apply_retention(services, NOW)

    assert result == {"files_deleted": 1, "messages_deleted": 2, "outbox_deleted": 2, "events_cleared": 2}
    assert not old["path"].exists() and recent["path"].exists() and open_["path"].exists()
    with services.sessions() as s:
        dossier = s.get(Dossier, old["dossier"])
        assert dossier is not None and dossier.status == "returned" and dossier.applicant  # the record stays
        docs = s.scalars(select(DossierDocument).where(DossierDocument.dossier_id == old["dossier"])).all()
        assert [(d.item, d.file_id) for d in docs] == [("Tờ khai", None)]

        def lines(conv_id: int) -> int:
            return len(s.scalars(select(Message).where(Message.conversation_id == conv_id)).all())

        assert [lines(c["conv"]) for c in (old, recent, open_, talk)] == [0, 1, 1, 1]
        blank = {e.user_id for e in s.scalars(select(InboundEvent).where(InboundEvent.raw == b""))}
        assert blank == {"returned-long-ago", "questions-only"}
    assert apply_retention(services, NOW) == {"files_deleted": 0, "messages_deleted": 0, "outbox_deleted": 0,
                                              "events_cleared": 0}


def test_retention_setting_is_checked(tmp_path: Path) -> None:
    (tmp_path / "agency.yml").write_text("retention:\n  finished_dossier_days: 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="finished_dossier_days"):
        Retention.load(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "agency.yml").write_text("name: x\n", encoding="utf-8")
    assert Retention.load(tmp_path / "x") == Retention(365, 365)  # conservative default when unset
