"""Erasure removes everything that holds the citizen's data, and says what it kept and why."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from bot.consent import erase
from bot.db import transaction
from bot.document import accept_upload, path_of
from bot.dossier import DocumentEntry
from bot.models import Conversation, InboundEvent, OutboxMessage, StoredFile
from bot.services import Services
from bot.transcript import conversation_for
from tests.channels.test_web_chat import at_document_step
from tests.dialogue.chat import PDF, png
from tests.dialogue.test_dossier import make

from .helpers import NOW, count, files_on_disk


def test_erasure_deletes_web_uploads_settled_outbox_and_files_names_kept_dossiers(app: Flask) -> None:
    services: Services = app.extensions["motcua"]
    settings = services.settings
    client = app.test_client()
    client.get("/")
    visitor = at_document_step(app, client)  # uploads are taken only when a document step waits
    sent = client.post("/chat/api/upload", data={"file": (io.BytesIO(png()), "giay.png", "image/png")},
                       content_type="multipart/form-data")
    assert sent.status_code == 202
    with services.sessions() as s:
        event = s.scalars(select(InboundEvent)).one()
        user, key = event.user_id, bytes(event.raw).decode()
    assert client.get(f"/chat/uploads/{visitor}/{key}").status_code == 200
    with transaction(services.sessions) as s:
        s.get(InboundEvent, event.id).status = "done"  # type: ignore[union-attr]
        conv = conversation_for(s, "web", user)
        conv.profile = {"name": "Nguyễn Văn An", "id_number": "001090001234"}
        submitted = accept_upload(s, settings, png(), conv)
        loose = [accept_upload(s, settings, PDF, conv), accept_upload(s, settings, png(), conv)]
        dossier = make(s, user, NOW, channel="web", documents=[DocumentEntry("Tờ khai", submitted.id)])
        for status in ("sent", "handled", "held", "failed", "pending"):
            s.add(OutboxMessage(conversation_id=conv.id, channel="web", user_id=user, status=status,
                                reply={"kind": "text", "text": "Họ tên: Nguyễn Văn An, CCCD 001090001234"}))
        code, conv_id = dossier.code, conv.id
        loose_paths = [path_of(settings, f) for f in loose]
        kept_path = path_of(settings, submitted)

    with transaction(services.sessions) as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        report = erase(s, settings, conv, NOW)

    assert (report.files_deleted, report.uploads_deleted, report.outbox_deleted) == (2, 1, 4)
    assert (report.dossiers_kept, report.kept_codes, report.files_kept) == (1, (code,), 1)
    told = report.replies()[0].text
    assert code in told and "lưu giữ theo quy định" in told and "2 tệp" in told
    assert client.get(f"/chat/uploads/{visitor}/{key}").status_code == 404
    assert not (Path(settings.files_dir) / "web" / key).exists()
    assert not any(p.exists() for p in loose_paths) and kept_path.exists()
    assert files_on_disk(settings) == [kept_path]  # only the submitted dossier's document is left
    with services.sessions() as s:
        left = s.scalars(select(OutboxMessage.status).where(OutboxMessage.conversation_id == conv_id)).all()
    assert left == ["pending"]  # the one the dispatcher may be sending right now
    assert count(services, StoredFile) == 1


def test_erasure_leaves_other_visitors_uploads(app: Flask) -> None:
    services: Services = app.extensions["motcua"]
    folder = Path(services.settings.files_dir) / "web"
    folder.mkdir(parents=True)
    other = uuid.uuid4().hex
    (folder / other).write_bytes(png())
    with transaction(services.sessions) as s:
        s.add(InboundEvent(channel="web", event_id="o1", user_id="w-other", raw=other.encode(),
                           status="done"))
        conv = conversation_for(s, "web", "w-me")
    with transaction(services.sessions) as s:
        conv = s.get(Conversation, conv.id)
        assert conv is not None
        assert erase(s, services.settings, conv, NOW).uploads_deleted == 0
    assert (folder / other).exists()
