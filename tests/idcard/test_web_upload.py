"""A web-chat citizen sends the card photo at the card offer: the upload is accepted there (not only at a
document step), read through the real pipeline and engine, and the saved original is deleted once read.
Where the flow needs a copy of that card (ho_kinh_doanh, filed by an authorised person) the confirmed photo
is kept as a stored file and filed as the copy's first file."""

from __future__ import annotations

import io
import random
from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from bot.config import Settings
from bot.messages import Reply
from bot.models import Conversation, StoredFile
from bot.pipeline import dispatcher, worker
from bot.templates import text
from flows.loader import load_flows
from tests.channels.test_web_chat import at_document_step, run_pipeline, sent_messages, visitor_of
from tests.dialogue.chat import png
from tests.idcard.photos import Person, photo

CITIZEN = Person("001090012345", "", "Nguyễn Văn An", date(1990, 1, 1), "Nam",
                 "Số 12, đường Lê Lợi, xã Hòa Bình, Hà Nội", date(2021, 5, 3))


def _upload(client: FlaskClient, data: bytes, name: str, client_id: str = "card-000001") -> int:
    form = {"file": (io.BytesIO(data), name, "image/jpeg"), "client_id": client_id}
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


def _turn(app: Flask, client: FlaskClient, message: str, button: str | None = None) -> str:
    """Send a message (or press a button; none: only run what is stored), run the pipeline; what the bot
    said since the last poll."""
    seen = sent_messages(client)
    if message:
        client.post("/chat/api/messages", json={"text": message, "payload": button})
    run_pipeline(app)
    sent = sent_messages(client, seen[-1]["id"] if seen else 0)
    return "\n".join(Reply.from_dict(m["reply"]).text for m in sent)


def _active(app: Flask, user_id: str) -> dict:
    with app.extensions["motcua"].sessions() as session:
        conv = session.query(Conversation).filter_by(channel="web", user_id=user_id).one()
        return dict(conv.state["active"])


def test_confirmed_card_photo_is_kept_and_filed_as_the_card_copy(app: Flask, settings: Settings) -> None:
    client = app.test_client()
    client.get("/")
    user_id = at_document_step(app, client, "ho_kinh_doanh", "id_card", {})
    assert _upload(client, photo(CITIZEN, random.Random(9)), "IMG_0003.jpg") == 202
    assert "001090012345" in _turn(app, client, "")
    _turn(app, client, "Đúng", '/card{"do":"yes"}')
    folder = settings.files_dir / "web" / user_id
    assert list(folder.iterdir()) == []  # the upload original is gone; the copy is a stored file
    held = _active(app, user_id)["card_copies"]["applicant"]
    with app.extensions["motcua"].sessions() as session:
        kept = session.get(StoredFile, held)
        assert kept is not None and (settings.files_dir / kept.storage_name).is_file()
    with app.extensions["motcua"].sessions() as session:  # jump to the filer question
        conv = session.query(Conversation).filter_by(channel="web", user_id=user_id).one()
        conv.state = {**conv.state, "active": {**conv.state["active"], "step": "filer"}}
        session.commit()
    _turn(app, client, "Được ủy quyền nộp thay")
    assert _upload(client, png(), "uy-quyen.png", "upload-000002") == 202  # the authorisation
    _turn(app, client, "")
    copy = load_flows()["ho_kinh_doanh"].step("ban_sao_the_can")
    said = _turn(app, client, "xong")
    assert text("idcard.copy_filed", label=copy.label) in said  # type: ignore[attr-defined]
    assert _active(app, user_id)["pending_files"] == [held]
