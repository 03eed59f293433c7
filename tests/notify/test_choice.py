"""The citizen chooses at submission how to be told, and changes or stops it later by saying so."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import transaction
from bot.dossier import status_label
from bot.dossier_workflow import change_status
from bot.models import ConsentRecord, Dossier, NotificationPreference
from bot.notify import sender
from bot.notify.content import without_diacritics
from bot.services import Services
from flows.context import payload
from flows.kinds.notify import requested
from tests.dialogue.chat import FILES, Chat, ScriptedNLU, active_step, complete, payloads, serve_files, texts

from .standins import EsmsStandIn

KHAI_SINH = "1.001193"


@pytest.fixture
def files() -> Iterator[str]:
    server, url = serve_files(lambda path: FILES.get(path, (b"", "")))
    yield url
    server.shutdown()
    server.server_close()


def _chat(settings: Settings, make_services: Callable[[Settings], Services], files: str,
          channel: str = "web") -> Chat:
    services = make_services(Settings(**{**settings.__dict__, "attachment_hosts": ("127.0.0.1",)}))
    services.nlu = ScriptedNLU()  # type: ignore[assignment]
    return Chat(services=services, file_base=files, channel=channel)


def _preference(chat: Chat) -> str | None:
    with chat.services.sessions() as session:
        row = session.scalars(select(NotificationPreference)).first()
        return row.choice if row else None


def test_web_citizen_chooses_sms_and_gets_every_later_status_by_sms(
        n_settings: Settings, make_services: Callable[[Settings], Services], files: str,
        esms_server: EsmsStandIn) -> None:
    chat = _chat(n_settings, make_services, files)
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat, until="notify")
    asked = chat.log[-1][1]
    # A web page cannot push: the chat itself is not offered, the phone channels that are on are.
    assert payloads(asked) == ['/choose{"value":"zalo"}', '/choose{"value":"sms"}', '/choose{"value":"none"}']
    assert "không tự gửi tin" in texts(asked)
    replies = chat.say("SMS")
    assert "SMS" in texts(replies) and active_step(chat).type == "confirm"
    complete(chat)
    with chat.services.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        consent = session.scalars(select(ConsentRecord).where(ConsentRecord.purpose == "notify:sms")).one()
        pref = session.get(NotificationPreference, dossier.conversation_id)
        assert pref is not None and (pref.basis, pref.consent_id) == ("consent", consent.id)
        code, dossier_id = dossier.code, dossier.id
    path = ("received", "processing", "result_ready", "returned")  # the officer's acceptance first
    for status in path:
        with transaction(chat.services.sessions) as session:
            dossier = session.get(Dossier, dossier_id)
            assert dossier is not None
            change_status(session, dossier, status, None, "staff:canbo1", chat.now)
            official = dossier.official_code
        sender.drain(chat.services)
    assert official and official != code  # the SMS carry the official code from the acceptance on
    contents = [c.json["Content"] for c in esms_server.sends()]
    assert len(contents) == len(path)
    for content, status in zip(contents, path, strict=True):
        assert official in content and without_diacritics(status_label(status)) in content


def test_no_push_channel_on_means_no_question(settings: Settings,
                                              make_services: Callable[[Settings], Services],
                                              files: str) -> None:
    chat = _chat(settings, make_services, files)
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat, until="confirm")
    assert active_step(chat).type == "confirm"
    assert not any("/choose{\"value\":\"sms\"}" in payloads(replies) for _, replies in chat.log)
    assert _preference(chat) is None


def test_zalo_citizen_is_offered_the_chat_and_can_change_or_stop_later(
        n_settings: Settings, make_services: Callable[[Settings], Services], files: str) -> None:
    chat = _chat(n_settings, make_services, files, channel="zalo")
    chat.press(payload("submit_dossier", procedure=KHAI_SINH))
    complete(chat, until="notify")
    assert payloads(chat.log[-1][1])[0] == '/choose{"value":"chat"}'
    chat.press('/choose{"value":"zalo"}', "Zalo theo số điện thoại")
    assert _preference(chat) == "zalo"
    complete(chat)
    assert "SMS" in texts(chat.say("Từ nay báo qua SMS cho tôi nhé"))
    assert _preference(chat) == "sms"
    assert "không gửi thông báo" in texts(chat.say("dừng thông báo"))
    assert _preference(chat) == "none"
    with chat.services.sessions() as session:
        answers = session.scalars(select(ConsentRecord.granted).where(
            ConsentRecord.purpose.like("notify:%")).order_by(ConsentRecord.id)).all()
    assert answers == [True, True, False]  # stopping withdraws the consent


@pytest.mark.parametrize(("message", "wanted"), [
    ("dừng thông báo", "none"), ("Ngừng gửi thông báo giúp tôi", "none"), ("không muốn nhận sms", "none"),
    ("báo qua SMS cho tôi", "sms"), ("thông báo cho tôi qua zalo", "zalo"), ("báo qua tin nhắn này", "chat"),
    ("tôi muốn tra cứu hồ sơ", None), ("thông báo kết quả khai sinh", None), ("Nguyễn Văn Bảo", None),
])
def test_what_reads_as_a_change_of_channel(message: str, wanted: str | None) -> None:
    assert requested(message) == wanted
