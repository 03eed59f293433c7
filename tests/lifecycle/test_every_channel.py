"""The figure: files left on disk after erasing a citizen who uploaded through every channel (target 0).

Web chat, Zalo and Messenger each deliver a document to a flow's document step through the real webhooks,
pipeline, engine and NLU server (the Zalo stand-in serves the platform files); then each citizen asks, in
words, to erase their data, and we count what is left of them on disk and in the database.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.consent import record
from bot.db import transaction, utcnow
from bot.models import Conversation, ErasureRecord, InboundEvent, Message, OutboxMessage, StoredFile
from bot.services import Services
from tests.channels.conftest import (
    CITIZEN,
    channel_settings,
    fb_batch,
    fb_headers,
    fb_message,
    zalo_body,
    zalo_headers,
)
from tests.channels.standins import GraphStandIn, ZaloStandIn
from tests.channels.test_real_engine import _pump
from tests.channels.test_web_chat import visitor_of
from tests.dialogue.chat import png

from .helpers import draft_state, files_on_disk

pytestmark = pytest.mark.rasa
PSID = "7712345678901234"


@pytest.fixture
def every_app(nlu_settings: Settings, zalo_server: ZaloStandIn, graph_server: GraphStandIn,
              make_app: Callable[[Settings], Flask]) -> Flask:
    local = channel_settings(nlu_settings, zalo_server, graph_server, attachment_hosts=("127.0.0.1",))
    return make_app(local)


def _at_document_step(services: Services, citizens: list[tuple[str, str]]) -> None:
    with transaction(services.sessions) as s:
        for channel, user in citizens:
            from bot.transcript import conversation_for

            conv = conversation_for(s, channel, user)
            record(s, conv, True, utcnow())
            conv.profile = {"ho_ten": "Nguyễn Văn An", "so_dinh_danh": "001090001234"}
            conv.state = draft_state([], utcnow() - timedelta(minutes=1))


class Citizen:
    """How one citizen writes on one channel."""

    def __init__(self, app: Flask, channel: str, zalo: ZaloStandIn) -> None:
        self.app, self.channel, self.zalo = app, channel, zalo
        self.web = app.test_client()
        self.sent = 0
        if channel == "web":
            self.web.get("/")
            self.user = visitor_of(app, self.web)
        else:
            self.user = CITIZEN if channel == "zalo" else PSID

    def _mid(self) -> str:
        self.sent += 1
        return f"{self.channel}-m{self.sent}"

    def upload(self) -> None:
        mid, url = self._mid(), f"{self.zalo.url}/files/don-de-nghi.pdf"
        if self.channel == "web":
            data = {"file": (io.BytesIO(png()), "giay.png", "image/png"), "client_id": f"client-{mid}"}
            assert self.web.post("/chat/api/upload", data=data,
                                 content_type="multipart/form-data").status_code == 202
        elif self.channel == "zalo":
            file = {"type": "file", "payload": {"url": url, "name": "don.pdf", "size": "20"}}
            body = zalo_body(event="user_send_file", msg_id=mid,
                             **{"message": {"msg_id": mid, "attachments": [file]}})
            assert self.web.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 200
        else:
            body = fb_batch([fb_message(PSID, mid, text="", attachments=[
                {"type": "file", "payload": {"url": url}}])])
            assert self.web.post("/webhooks/facebook", data=body, headers=fb_headers(body)).status_code == 200

    def say(self, words: str) -> None:
        mid = self._mid()
        if self.channel == "web":
            assert self.web.post("/chat/api/messages",
                                 json={"text": words, "client_id": f"client-{mid}"}).status_code == 202
        elif self.channel == "zalo":
            body = zalo_body(text=words, msg_id=mid)
            assert self.web.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 200
        else:
            body = fb_batch([fb_message(PSID, mid, text=words)])
            assert self.web.post("/webhooks/facebook", data=body, headers=fb_headers(body)).status_code == 200


def _told(services: Services, conv_id: int) -> list[str]:
    with services.sessions() as s:
        return [r["text"] for r in s.scalars(select(OutboxMessage.reply)
                                            .where(OutboxMessage.conversation_id == conv_id)
                                            .order_by(OutboxMessage.id))]


def test_no_file_is_left_after_erasing_a_citizen_of_every_channel(
        every_app: Flask, zalo_server: ZaloStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    services: Services = every_app.extensions["motcua"]
    citizens = [Citizen(every_app, channel, zalo_server) for channel in ("web", "zalo", "facebook")]
    _at_document_step(services, [(c.channel, c.user) for c in citizens])
    for citizen in citizens:
        citizen.upload()
    _pump(every_app)

    with services.sessions() as s:
        convs = {c.channel: s.scalars(select(Conversation.id).where(Conversation.channel == c.channel,
                                                                    Conversation.user_id == c.user)).one()
                 for c in citizens}
        own = select(StoredFile.storage_name)
        stored = {ch: s.scalars(own.where(StoredFile.conversation_id == cid)).all()
                  for ch, cid in convs.items()}
    assert all(len(names) == 1 for names in stored.values()), stored  # each channel's document was kept
    web_originals = [p for p in (Path(services.settings.files_dir) / "web").rglob("*") if p.is_file()]
    before = files_on_disk(services.settings)
    assert len(before) == 4 and len(web_originals) == 1  # three stored documents, one web-chat original
    key = f"{citizens[0].user}/{web_originals[0].name}"
    assert citizens[0].web.get(f"/chat/uploads/{key}").status_code == 200

    for citizen in citizens:
        citizen.say("xóa dữ liệu của tôi")
    _pump(every_app)
    for citizen in citizens:
        asked = _told(services, convs[citizen.channel])[-1]
        assert "rút lại sự đồng ý và xóa thông tin" in asked, asked
        citizen.say("Xóa dữ liệu")
    _pump(every_app)

    left_on_disk = files_on_disk(services.settings)
    with services.sessions() as s:
        ids = list(convs.values())
        def n(model: type, *where: object) -> int:
            return len(s.scalars(select(model.id).where(*where)).all())  # type: ignore[attr-defined]

        rows = {
            "stored_file": n(StoredFile, StoredFile.conversation_id.in_(ids)),
            "citizen_message": n(Message, Message.conversation_id.in_(ids), Message.direction == "in"),
            "profile": sum(bool(p) for p in s.scalars(select(Conversation.profile)
                                                      .where(Conversation.id.in_(ids)))),
            "event_with_content": n(InboundEvent, InboundEvent.raw != b""),
            "outbox": n(OutboxMessage, OutboxMessage.conversation_id.in_(ids)),
        }
        erasures = n(ErasureRecord)
    for citizen in citizens:
        assert "Em đã xóa dữ liệu cá nhân" in _told(services, convs[citizen.channel])[-1]
    with capsys.disabled():
        print(f"\nfiles left on disk after erasing citizens of web, Zalo, Messenger: {len(left_on_disk)} "
              f"(before: {len(before)}); rows: {rows}")
    assert left_on_disk == [] and erasures == 3
    assert citizens[0].web.get(f"/chat/uploads/{key}").status_code == 404
    assert (rows["stored_file"], rows["citizen_message"], rows["profile"]) == (0, 0, 0)
    # Left, holding no personal data: per citizen the erasure confirmation (transcript + outbox) and the
    # event of the "Xóa dữ liệu" answer itself, which was being processed while the erasure ran.
    assert rows["outbox"] == 3 and rows["event_with_content"] == 3
