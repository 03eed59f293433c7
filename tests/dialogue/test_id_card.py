"""Reading the ID card's QR code in a conversation: offer after consent, photo -> reading -> "đúng" fills the
fields and skips their questions; "sửa" corrects one field; an unreadable photo gets one hint and the typed
path; a second person (the mother) by a photo at her question. Real decoder, generated card photos."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from datetime import date

import pytest
import segno
from sqlalchemy import select

from bot.models import Dossier, StoredFile
from bot.templates import text
from tests.idcard.photos import Person, photo

from .chat import FILES, Chat, ScriptedNLU, active_step, answer_step, payloads, png, serve_files, texts

KHAI_SINH = "1.001193"
APPLICANT = Person("001090012345", "123456789", "Nguyễn Văn An", date(1990, 1, 1), "Nam",
                   "Số 12, đường Lê Lợi, xã Hòa Bình, Hà Nội", date(2021, 5, 3))
MOTHER = Person("079195004321", "", "Trần Thị Mai", date(1995, 3, 8), "Nữ",
                "Số 5, đường Quang Trung, xã Tân Lập, Hồ Chí Minh", date(2022, 7, 1))
WRONG_SEX = Person("001090012345", "", "Nguyễn Văn An", date(1990, 1, 1), "Nữ", "", date(2021, 5, 3))


def _qr_png(content: str) -> bytes:
    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


PHOTOS = {
    "/cccd.jpg": photo(APPLICANT, random.Random(3)),
    "/cccd-me.heic": photo(MOTHER, random.Random(4), fmt="heic"),
    "/sai-gioi-tinh.jpg": photo(WRONG_SEX, random.Random(5), payload=WRONG_SEX.payload()),
    "/qr-web.png": _qr_png("https://example.com/not-a-card"),
    "/trang.png": png(800, 600),
}


@pytest.fixture(scope="module")
def card_server() -> Iterator[str]:
    server, url = serve_files(lambda path: (PHOTOS[path], "image/jpeg") if path in PHOTOS
                              else FILES.get(path, (b"", "")))
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU, card_server: str) -> Chat:
    nlu.add("làm khai sinh", "submit_dossier", procedure=KHAI_SINH)
    made = make_chat()
    made.file_base = card_server
    return made


def start(chat: Chat) -> list:
    chat.say("làm khai sinh")
    replies = chat.press("consent:yes", "Đồng ý")
    assert active_step(chat).type == "id_card"
    assert '/card{"do":"type"}' in payloads(replies)
    return replies


def stored_files(chat: Chat) -> int:
    with chat.services.sessions() as session:
        return len(list(session.scalars(select(StoredFile))))


def test_photo_confirmed_fills_the_fields_and_skips_their_questions(chat: Chat) -> None:
    start(chat)
    replies = chat.upload("/cccd.jpg")
    shown = texts(replies)
    assert "Họ và tên người đi đăng ký: Nguyễn Văn An" in shown
    assert "001090012345" in shown
    assert stored_files(chat) == 0  # the photo was read, not kept
    replies = chat.say("đúng")
    assert text("idcard.filled") in texts(replies)
    assert active_step(chat).id == "phone"  # name and ID number were not asked
    state = chat.state()["active"]
    assert state["slots"]["applicant_id_number"] == "001090012345"
    assert state["sources"] == {"applicant_name": "Nguyễn Văn An", "applicant_id_number": "001090012345",
                                "applicant_address": "Số 12, đường Lê Lợi, xã Hòa Bình, Hà Nội"}
    while (step := active_step(chat)).type != "confirm":
        answer_step(chat, step)
    answer_step(chat, active_step(chat))
    with chat.services.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert dossier.applicant["_sources"] == {"applicant_name": "card", "applicant_id_number": "card",
                                                 "applicant_address": "card"}
        assert dossier.applicant["applicant_name"] == "Nguyễn Văn An"


def test_fix_one_field_then_confirm(chat: Chat) -> None:
    start(chat)
    chat.upload("/cccd.jpg")
    replies = chat.press('/card{"do":"fix"}', "Sửa")
    assert '/card{"do":"fix","field":"applicant_name"}' in payloads(replies)
    replies = chat.press('/card{"do":"fix","field":"applicant_name"}', "Họ và tên")
    replies = chat.say("Nguyễn Văn Bình")
    assert "Nguyễn Văn Bình" in texts(replies)
    chat.press('/card{"do":"yes"}', "Đúng")
    state = chat.state()["active"]
    assert state["slots"]["applicant_name"] == "Nguyễn Văn Bình"
    assert state["sources"] == {"applicant_id_number": "001090012345",  # the corrected name was typed
                                "applicant_address": "Số 12, đường Lê Lợi, xã Hòa Bình, Hà Nội"}


def test_fix_with_an_invalid_value_is_asked_again_with_the_usual_message(chat: Chat) -> None:
    start(chat)
    chat.upload("/cccd.jpg")
    chat.press('/card{"do":"fix","field":"applicant_id_number"}', "Số định danh")
    replies = chat.say("12345")
    assert text("validation.id_number", length=5) in texts(replies)
    assert chat.state()["active"]["card"]["stage"] == "fix"


def test_type_all_drops_the_reading(chat: Chat) -> None:
    start(chat)
    chat.upload("/cccd.jpg")
    chat.press('/card{"do":"type"}', "Tự nhập tất cả")
    state = chat.state()["active"]
    assert "card" not in state and "applicant_name" not in state["slots"]
    assert active_step(chat).id == "applicant_name"


def test_unreadable_photo_gets_one_hint_and_the_typed_path(chat: Chat) -> None:
    start(chat)
    replies = chat.upload("/trang.png")
    assert text("idcard.hint_qr_side") in texts(replies)
    assert '/card{"do":"type"}' in payloads(replies)  # never a dead end
    assert active_step(chat).type == "id_card" and stored_files(chat) == 0


def test_a_qr_code_that_is_not_a_card_is_refused(chat: Chat) -> None:
    start(chat)
    replies = chat.upload("/qr-web.png")
    assert text("idcard.hint_not_card") in texts(replies)
    assert stored_files(chat) == 0


def test_a_card_whose_sex_contradicts_its_number_fills_nothing(chat: Chat) -> None:
    start(chat)
    replies = chat.upload("/sai-gioi-tinh.jpg")
    assert text("idcard.hint_misread") in texts(replies)
    assert chat.state()["active"]["slots"] == {}


def test_typed_path_then_the_mothers_card_at_her_question(chat: Chat) -> None:
    start(chat)
    chat.press('/card{"do":"type"}', "Tự nhập")
    while active_step(chat).id != "mother_name":
        replies = answer_step(chat, active_step(chat))
    assert text("idcard.field_tip") in texts(replies)
    replies = chat.upload("/cccd-me.heic")
    assert "Họ và tên của mẹ: Trần Thị Mai" in texts(replies)
    replies = chat.say("đúng")
    assert active_step(chat).id == "mother_ethnicity"  # name, birth date, address and ID were not asked
    slots = chat.state()["active"]["slots"]
    assert slots["mother_name"] == "Trần Thị Mai" and slots["mother_id_number"] == "079195004321"


def test_photo_at_the_id_question_that_cannot_be_read_asks_that_question_again(chat: Chat) -> None:
    start(chat)
    chat.press('/card{"do":"type"}', "Tự nhập")
    chat.say("Nguyễn Văn An")
    assert active_step(chat).id == "applicant_id_number"
    replies = chat.upload("/trang.png")
    assert text("idcard.hint_qr_side") in texts(replies)
    assert active_step(chat).id == "applicant_id_number"


def test_typing_the_name_at_the_offer_takes_the_typed_path(chat: Chat) -> None:
    start(chat)
    chat.say("Nguyễn Văn An")
    assert chat.state()["active"]["slots"]["applicant_name"] == "Nguyễn Văn An"
    assert active_step(chat).id == "applicant_id_number"
