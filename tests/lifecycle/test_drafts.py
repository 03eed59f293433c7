"""Draft expiry: the maintenance job ends old drafts with their files and tells the citizen by itself."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction
from bot.document import accept_upload, path_of
from bot.lifecycle import draft_file_ids, expire_drafts, run_once
from bot.models import Conversation, InboundEvent, Message, OutboxMessage, StoredFile
from bot.services import Services
from bot.transcript import conversation_for
from tests.dialogue.chat import PDF

from .helpers import NOW, TITLE, count, draft_state, outbox_texts, with_draft


def _state(services: Services, conversation_id: int) -> dict:
    with services.sessions() as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None
        return dict(conv.state or {})


def test_old_draft_expires_without_any_new_message(services: Services) -> None:
    ttl = services.settings.draft_ttl_days
    old_id, old_files = with_draft(services, "old", timedelta(days=ttl, hours=1), files=2)
    fresh_id, fresh_files = with_draft(services, "fresh", timedelta(days=ttl - 1), files=1)

    result = expire_drafts(services, NOW)

    assert result == {"drafts_expired": 1, "files_deleted": 2}
    state = _state(services, old_id)
    assert state["active"] is None and "resume_offered" not in state and state["disclosed"] is True
    assert not any(p.exists() for p in old_files)
    assert count(services, StoredFile, StoredFile.conversation_id == old_id) == 0
    notice = outbox_texts(services, old_id)
    assert len(notice) == 1
    assert f"hồ sơ {TITLE} anh/chị làm dở đã quá {ttl} ngày" in notice[0]
    with services.sessions() as s:
        item = s.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == old_id)).one()
        assert (item.status, item.purpose, item.channel, item.user_id) == ("pending", "notification", "zalo",
                                                                          "old")
        said = s.scalars(select(Message.text).where(Message.conversation_id == old_id,
                                                    Message.direction == "out")).all()
        assert said == notice  # the transcript shows what the citizen was told
    # the younger draft is untouched
    assert _state(services, fresh_id)["active"]["flow"] == "gia_han_tam_tru"
    assert all(p.exists() for p in fresh_files) and outbox_texts(services, fresh_id) == []

    # a second run finds nothing left to do
    assert expire_drafts(services, NOW) == {"drafts_expired": 0, "files_deleted": 0}
    assert len(outbox_texts(services, old_id)) == 1


def test_files_of_a_submitted_dossier_are_never_draft_files(services: Services) -> None:
    from bot.dossier import DocumentEntry
    from tests.dialogue.test_dossier import make

    ttl = services.settings.draft_ttl_days
    conv_id, paths = with_draft(services, "sub", timedelta(days=ttl + 3), files=2)
    with transaction(services.sessions) as s:
        first = s.scalars(select(StoredFile).where(StoredFile.conversation_id == conv_id)
                          .order_by(StoredFile.id)).first()
        assert first is not None
        make(s, "sub", NOW - timedelta(days=ttl + 3), documents=[DocumentEntry("Tờ khai", first.id)])
    assert expire_drafts(services, NOW) == {"drafts_expired": 1, "files_deleted": 1}
    assert paths[0].exists() and not paths[1].exists()


def test_a_draft_with_a_waiting_message_is_left_to_that_turn(services: Services) -> None:
    ttl = services.settings.draft_ttl_days
    conv_id, paths = with_draft(services, "busy", timedelta(days=ttl + 1))
    with transaction(services.sessions) as s:
        s.add(InboundEvent(channel="zalo", event_id="busy-1", user_id="busy", raw=b"{}", status="pending"))
    assert expire_drafts(services, NOW)["drafts_expired"] == 0
    assert _state(services, conv_id)["active"] is not None and paths[0].exists()
    assert outbox_texts(services, conv_id) == []


def test_abandoned_loose_files_go_after_the_draft_days(services: Services) -> None:
    """Files no draft and no dossier holds (a cancelled draft) are deleted once older than DRAFT_TTL_DAYS."""
    ttl = services.settings.draft_ttl_days
    settings = services.settings
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "cancelled")
        loose = accept_upload(s, settings, PDF, conv)
        loose.created_at = NOW - timedelta(days=ttl + 1)
        held = accept_upload(s, settings, PDF, conv)
        held.created_at = NOW - timedelta(days=ttl + 1)
        conv.state = draft_state([held.id], NOW - timedelta(hours=1))  # a live draft still holds it
        young = accept_upload(s, settings, PDF, conv)
        young.created_at = NOW - timedelta(days=1)
        named = (("loose", loose), ("held", held), ("young", young))
        paths = {name: path_of(settings, f) for name, f in named}
        assert draft_file_ids(conv.state) == {held.id}
    assert expire_drafts(services, NOW) == {"drafts_expired": 0, "files_deleted": 1}
    assert not paths["loose"].exists() and paths["held"].exists() and paths["young"].exists()


def test_run_once_reports_every_job(services: Services) -> None:
    with_draft(services, "old", timedelta(days=services.settings.draft_ttl_days + 1))
    result = run_once(services, NOW)
    assert set(result) == {"drafts", "retention", "orphans"}
    assert result["drafts"] == {"drafts_expired": 1, "files_deleted": 1}


class _NLUDown:
    def parse(self, message: str) -> None:
        from nlu.client import NLUUnavailable

        raise NLUUnavailable("down")


def test_a_turn_that_meets_an_old_draft_expires_it_and_the_notice_survives_the_nlu_being_down(
        services: Services) -> None:
    from bot.messages import Inbound
    from bot.turn import run_turn

    ttl = services.settings.draft_ttl_days
    conv_id, paths = with_draft(services, "writes", timedelta(days=ttl + 1), channel="web")
    services.nlu = _NLUDown()  # type: ignore[assignment]
    with transaction(services.sessions) as s:
        run_turn(s, services, Inbound("web", "writes", "text", text="cho tôi hỏi", message_id="w-1"), now=NOW)
    assert _state(services, conv_id)["active"] is None
    assert not paths[0].exists()
    said = outbox_texts(services, conv_id)
    assert f"đã quá {ttl} ngày" in said[0] and len(said) >= 2  # the notice, then the NLU-down answer
    with services.sessions() as s:
        first = s.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv_id)
                          .order_by(OutboxMessage.id)).first()
        assert first is not None and (first.purpose, first.in_reply_to) == ("reply", "w-1")
