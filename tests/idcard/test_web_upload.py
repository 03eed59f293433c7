"""A web-chat citizen sends the card photo at the card offer: the upload is accepted there (not only at a
document step), read through the real pipeline and engine, and the saved original is deleted once read."""

from __future__ import annotations

import io
import random
from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from bot.config import Settings
from bot.messages import Reply
from bot.pipeline import dispatcher, worker
from tests.channels.test_web_chat import at_document_step, visitor_of
from tests.idcard.photos import Person, photo

CITIZEN = Person("001090012345", "", "Nguyễn Văn An", date(1990, 1, 1), "Nam",
                 "Số 12, đường Lê Lợi, xã Hòa Bình, Hà Nội", date(2021, 5, 3))


def _upload(client: FlaskClient, data: bytes, name: str) -> int:
    form = {"file": (io.BytesIO(data), name, "image/jpeg"), "client_id": "card-000001"}
    return client.post("/chat/api/upload", data=form, content_type="multipart/form-data").status_code


def test_card_photo_at_the_offer_is_read_and_not_kept(app: Flask, settings: Settings) -> None:
    client = app.test_client()
    client.get("/")
    user_id = visitor_of(app, client)
    at_document_step(app, client, "khai_sinh", "id_card", {})
    assert _upload(client, photo(CITIZEN, random.Random(7)), "IMG_0001.jpg") == 202
    folder = settings.files_dir / "web" / user_id
    assert len(list(folder.iterdir())) == 1  # saved to be read by the worker
    worker.drain(app.extensions["motcua"])
    dispatcher.drain(app.extensions["motcua"], app.extensions["motcua.connectors"])
    sent = client.get("/chat/api/messages").get_json()["messages"]
    shown = "\n".join(Reply.from_dict(m["reply"]).text for m in sent)
    assert "Nguyễn Văn An" in shown and "001090012345" in shown  # the reading, to confirm
    assert list(folder.iterdir()) == []  # the photo itself is gone once read


def test_card_photo_refused_where_no_file_is_expected(app: Flask) -> None:
    client = app.test_client()
    client.get("/")
    at_document_step(app, client, "khai_sinh", "phone", {})
    assert _upload(client, photo(CITIZEN, random.Random(8)), "IMG_0002.jpg") == 409
