"""A step's own reading of a message comes before the NLU, with the REAL Rasa server.

The bug: every free-text answer inside a flow went to the NLU before the step's validator, and a side
question won. Asked for the child's place of birth, a citizen who answered "Trạm Y tế xã Tiên Lãng, thành
phố Hải Phòng" got the fee of the procedure, then the same question again, forever. Now a value the step
takes is the answer, without an NLU parse; only what the step cannot take (or what reads like a request) is
parsed, at most once per turn, and never inside the turn's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event

from bot.config import Settings
from bot.services import Services
from flows.turn import Network

from .chat import Chat, active_step, complete, texts

pytestmark = pytest.mark.rasa

KHAI_SINH = '/submit_dossier{"procedure":"1.001193"}'


class CountingNLU:
    """The real NLU client, counting parses and whether a database transaction was open at the time."""

    def __init__(self, services: Services) -> None:
        self.inner, self.texts, self.in_transaction = services.nlu, [], 0
        self.open_transactions = 0

        @event.listens_for(services.engine, "begin")
        def began(_conn):  # type: ignore[no-untyped-def]
            self.open_transactions += 1

        @event.listens_for(services.engine, "commit")
        def committed(_conn):  # type: ignore[no-untyped-def]
            self.open_transactions -= 1

        @event.listens_for(services.engine, "rollback")
        def rolled_back(_conn):  # type: ignore[no-untyped-def]
            self.open_transactions = max(0, self.open_transactions - 1)

    def parse(self, message: str):  # type: ignore[no-untyped-def]
        self.texts.append(message)
        self.in_transaction += self.open_transactions > 0
        return self.inner.parse(message)


@pytest.fixture
def real_services(nlu_settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(Settings.load(**{**nlu_settings.__dict__, "attachment_hosts": ("127.0.0.1",)}))


@pytest.fixture
def nlu(real_services: Services) -> Iterator[CountingNLU]:
    counting = CountingNLU(real_services)
    real_services.nlu = counting  # type: ignore[assignment]
    reruns = Network.reruns
    yield counting
    assert counting.in_transaction == 0, "an NLU parse happened inside a database transaction"
    assert Network.reruns == reruns, "a turn had to run again to fetch something outside its transaction"


@pytest.fixture
def chat(real_services: Services, nlu: CountingNLU, file_server: str) -> Chat:
    chat = Chat(services=real_services, user="zalo-birth-place", channel="zalo", file_base=file_server)
    chat.press(KHAI_SINH)
    chat.press("consent:yes", "Đồng ý")
    return chat


def walk_to(chat: Chat, step_id: str) -> None:
    complete(chat, until=step_id)
    assert active_step(chat).id == step_id


def test_the_birth_place_is_the_answer_not_a_question_about_fees(chat: Chat, nlu: CountingNLU) -> None:
    walk_to(chat, "child_birth_place")
    nlu.texts.clear()
    replies = chat.say("Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng")
    assert nlu.texts == []  # taken as the answer: no parse at all
    assert "lệ phí" not in texts(replies).lower()
    place = chat.state()["active"]["slots"]["child_birth_place"]
    assert place == "Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng"
    assert active_step(chat).id == "child_hometown" and "quê quán" in texts(replies).lower()


@pytest.mark.parametrize(("step_id", "answer", "stored"), [
    ("applicant_name", "Phạm Thị Hồng Nhung", "Phạm Thị Hồng Nhung"),
    ("applicant_name", "nguyễn văn phí", "Nguyễn Văn Phí"),  # "phí" is a fee word and a given name
    ("applicant_id_number", "001090001234", "001090001234"),
    ("phone", "0912 345 678", "+84912345678"),
    ("child_name", "Lê Hoàng Bảo Hân", "Lê Hoàng Bảo Hân"),
    ("child_birth_date", "15/10/2026", "2026-10-15"),
    ("child_birth_place", "Bệnh viện Phụ sản Hà Nội, phường Láng Hạ, quận Đống Đa", None),
    ("child_birth_place", "Bệnh viện đa khoa tỉnh Thái Bình", None),
    ("child_birth_place", "tại nhà, thôn Phí Xá, xã Hồng Phong, huyện Ninh Giang", None),
    ("child_birth_place", "Số 12 đường Lệ Phí, thôn Đông, xã Tân Lập", None),
])
def test_values_that_look_like_questions_are_taken_as_values(
        chat: Chat, nlu: CountingNLU, step_id: str, answer: str, stored: str | None) -> None:
    walk_to(chat, step_id)
    before = len(nlu.texts)
    chat.say(answer)
    slots = chat.state()["active"]["slots"]
    assert slots[step_id] == (stored or answer), chat.log[-1]
    assert active_step(chat).id != step_id
    assert len(nlu.texts) - before <= 1  # at most one parse per turn (none when nothing reads like a request)


def test_a_real_question_inside_the_flow_is_answered_with_one_parse(chat: Chat, nlu: CountingNLU) -> None:
    walk_to(chat, "child_birth_place")
    nlu.texts.clear()
    replies = chat.say("lệ phí đăng ký khai sinh bao nhiêu vậy?")
    assert nlu.texts == ["lệ phí đăng ký khai sinh bao nhiêu vậy?"]
    assert "miễn" in texts(replies).lower() and active_step(chat).id == "child_birth_place"
    assert "nơi sinh" in replies[-1].text.lower()  # then the same question again, once


def test_control_words_need_no_parse(chat: Chat, nlu: CountingNLU) -> None:
    walk_to(chat, "phone")
    nlu.texts.clear()
    back = chat.say("quay lại")
    assert active_step(chat).id == "applicant_id_number" and "quay lại" in texts(back).lower()
    cancelled = chat.say("hủy")
    assert chat.state().get("active") is None and "hủy" in texts(cancelled).lower()
    assert nlu.texts == []


def test_a_whole_dossier_by_typing_and_buttons_parses_almost_nothing(chat: Chat, nlu: CountingNLU) -> None:
    turns = len(chat.log)
    walk_to(chat, "child_birth_place")
    chat.say("Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng")
    complete(chat)
    assert "Mã tiếp nhận trực tuyến: TN-" in texts(chat.log[-1][1])
    assert nlu.texts == []  # names, numbers, dates, choices, photos, confirmation: no NLU at all
    assert len(chat.log) - turns >= 15
