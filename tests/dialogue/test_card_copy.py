"""A card photo kept as the flow's copy of the card (`card_of`): in ho_kinh_doanh the người ủy quyền who
must send a copy of their card is the chủ hộ (applicant), whose card photo filled in the details. Read and
confirmed, the photo is held; it becomes that document's first file when the authorised-filer branch is
taken, and is really deleted (row and file) otherwise: branch not taken, cancel, expiry, erasure, reading
rejected. The photo comes from a platform's CDN (a Zalo conversation); the web chat is in tests/idcard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.document import path_of
from bot.lifecycle import expire_drafts
from bot.models import Dossier, StoredFile
from bot.templates import text
from flows.context import payload
from flows.loader import load_flows

from .chat import Chat, ScriptedNLU, active_step, button, complete, payloads, texts
from .test_id_card import card_server  # noqa: F401  (the fixture: generated card photos on a CDN stand-in)

HO_KINH_DOANH = "1.001612"
AUTHORISED = {"filer": "Được ủy quyền nộp thay"}
OWNER = {"filer": "Tôi là chủ hộ kinh doanh"}
COPY = load_flows()["ho_kinh_doanh"].step("ban_sao_the_can")


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU, card_server: str) -> Chat:  # noqa: F811
    nlu.add("xóa dữ liệu của tôi", "delete_data")
    made = make_chat(channel="zalo")
    made.file_base = card_server
    return made


def card_read(chat: Chat) -> list:
    """Start ho_kinh_doanh, send the chủ hộ's card photo at the offer; the reading waits for "Đúng"."""
    chat.press(payload("submit_dossier", procedure=HO_KINH_DOANH))
    chat.press("consent:yes", "Đồng ý")
    assert active_step(chat).type == "id_card"
    replies = chat.upload("/cccd.jpg")
    assert "Nguyễn Văn An" in texts(replies)
    return replies


def held(chat: Chat) -> int:
    """Read and confirmed: the photo is held for the copy of the applicant's card; its stored id."""
    card_read(chat)
    chat.press('/card{"do":"yes"}', "Đúng")
    copies = chat.state()["active"]["card_copies"]
    assert list(copies) == ["applicant"]
    return int(copies["applicant"])


def stored(chat: Chat, file_id: int) -> Path | None:
    """Where the stored file is on disk, None when its row is gone (and then its file must be too)."""
    with chat.services.sessions() as session:
        row = session.get(StoredFile, file_id)
        return path_of(chat.services.settings, row) if row is not None else None


def gone(chat: Chat, file_id: int, path: Path) -> bool:
    return stored(chat, file_id) is None and not path.exists()


def test_the_photo_is_filed_as_the_card_copy_when_the_authorised_branch_is_taken(chat: Chat) -> None:
    photo = held(chat)
    path = stored(chat, photo)
    assert path is not None and path.is_file()
    replies = complete(chat, until="ban_sao_the_can", choose=AUTHORISED)
    asked = texts(replies)
    assert text("idcard.copy_filed", label=COPY.label) in asked  # one message: the other side, please
    assert COPY.ask not in asked and '/done' in payloads(replies)
    active = chat.state()["active"]
    assert active["pending_files"] == [photo] and "card_copies" not in active
    more = chat.upload("/giay.png")  # the other side
    assert "2" in texts(more)
    chat.press(button(more, "Xong"), "Xong")
    complete(chat, choose=AUTHORISED)
    with chat.services.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        copy = [(d.file_id, d.from_card) for d in dossier.documents if d.item == COPY.label]
    assert copy[0] == (photo, True) and len(copy) == 2 and not copy[1][1]
    assert path.is_file()  # a document of the dossier now: kept and erased like any other


def test_the_photo_is_deleted_when_the_branch_is_not_taken(chat: Chat) -> None:
    photo = held(chat)
    path = stored(chat, photo)
    assert path is not None
    complete(chat, until="confirm", choose=OWNER)
    assert gone(chat, photo, path)  # the confirmation is reached without the copy: not needed
    assert "card_copies" not in chat.state()["active"]
    complete(chat, choose=OWNER)
    with chat.services.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert not any(d.from_card for d in dossier.documents)


def test_the_photo_is_deleted_on_cancel(chat: Chat) -> None:
    photo = held(chat)
    path = stored(chat, photo)
    assert path is not None
    chat.say("hủy")
    assert chat.state().get("active") is None and gone(chat, photo, path)


def test_a_photo_waiting_for_confirmation_is_deleted_on_cancel(chat: Chat) -> None:
    card_read(chat)
    photo = int(chat.state()["active"]["card"]["photo"])
    path = stored(chat, photo)
    assert path is not None
    chat.say("hủy")
    assert gone(chat, photo, path)


def test_the_photo_is_deleted_on_erasure(chat: Chat) -> None:
    photo = held(chat)
    path = stored(chat, photo)
    assert path is not None
    asked = chat.say("xóa dữ liệu của tôi")
    chat.press(button(asked, "Xóa dữ liệu"))
    assert gone(chat, photo, path)


def test_the_photo_is_deleted_when_the_draft_expires(chat: Chat) -> None:
    photo = held(chat)
    path = stored(chat, photo)
    assert path is not None
    days = chat.services.settings.draft_ttl_days
    assert expire_drafts(chat.services, chat.now + timedelta(days=days + 1))["drafts_expired"] == 1
    assert gone(chat, photo, path)


def test_a_rejected_reading_keeps_no_photo(chat: Chat) -> None:
    card_read(chat)
    assert chat.state()["active"]["card"].get("photo")  # stored while the citizen decides
    chat.press('/card{"do":"type"}', "Tự nhập tất cả")
    assert "card" not in chat.state()["active"]
    with chat.services.sessions() as session:
        assert session.scalars(select(StoredFile)).all() == []
    complete(chat, until="ban_sao_the_can", choose=AUTHORISED)
    assert chat.state()["active"].get("pending_files", []) == []  # asked as any document
