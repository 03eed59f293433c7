"""A web-chat upload at a document step, through the real engine: kept as the step's document."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.models import Conversation, StoredFile
from bot.pipeline import dispatcher, worker
from bot.templates import text
from connectors.base import http_session
from flows.loader import load_flows

from .test_limits import PNG, _upload, _visitor
from .test_web_chat import at_document_step

pytestmark = pytest.mark.rasa


def test_upload_at_a_document_step_becomes_the_document(
    nlu_settings: Settings, make_app: Callable[[Settings], Flask]
) -> None:
    app = make_app(nlu_settings)
    client = _visitor(app)
    user_id = at_document_step(app, client)
    assert _upload(client, PNG, "cccd.png", "image/png").status_code == 202
    services = app.extensions["motcua"]
    worker.drain(services, app.extensions["motcua.connectors"])
    dispatcher.drain(services, app.extensions["motcua.connectors"], http_session())
    with services.sessions() as session:
        conv = session.scalars(select(Conversation).where(Conversation.user_id == user_id)).one()
        [stored] = session.scalars(select(StoredFile)).all()
        assert (stored.conversation_id, stored.content_type, stored.size) == (conv.id, "image/png", len(PNG))
        assert conv.state["active"]["pending_files"] == [stored.id]
    step = load_flows(str(nlu_settings.data_dir / "flows"))["giam_ho"].step("giay_to_chung_minh")
    said = [m["reply"]["text"] for m in client.get("/chat/api/messages?after=0").get_json()["messages"]]
    assert text("dialogue.document_received_more", label=step.label, count=1,  # type: ignore[attr-defined]
                high=step.max_count) in said  # type: ignore[attr-defined]
