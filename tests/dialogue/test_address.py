"""The form of address: the agency's choice, the citizen's own ("gọi tôi là bác"), applied once to every
bot reply where it enters the transcript and the outbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import yaml
from sqlalchemy import select

from bot.address import address, address_reply, asked_form
from bot.agency import Agency, AgencyConfigError
from bot.config import DATA_DIR
from bot.messages import Button, Reply
from bot.models import OutboxMessage
from bot.templates import text

from .chat import Chat, ScriptedNLU, active_step, texts

KHAI_SINH = "1.001193"


@pytest.mark.parametrize(("form", "said"), [
    ("anh/chị", "Anh/Chị cần gì ạ? Em gửi anh/chị nhé."),
    ("ông/bà", "Ông/Bà cần gì ạ? Em gửi ông/bà nhé."),
    ("bác", "Bác cần gì ạ? Em gửi bác nhé."),
    ("chị", "Chị cần gì ạ? Em gửi chị nhé."),
])
def test_the_text_is_said_in_the_form_with_its_capitals(form: str, said: str) -> None:
    assert address("Anh/Chị cần gì ạ? Em gửi anh/chị nhé.", form) == said
    assert address("Anh/chị ơi", form).startswith(said[:2])  # the catalogue's "Anh/chị" too


def test_buttons_follow_and_an_officers_own_words_do_not() -> None:
    bot = Reply.say("Anh/Chị chọn giúp em ạ", Button("Anh/Chị tự làm", "/x"))
    said = address_reply(bot, "ông/bà")
    assert said.text == "Ông/Bà chọn giúp em ạ" and said.buttons[0].title == "Ông/Bà tự làm"
    officer = Reply(kind="text", text="Anh/chị chờ chút nhé", author="staff")
    assert address_reply(officer, "bác") == officer


@pytest.mark.parametrize(("message", "form"), [
    ("gọi tôi là bác", "bác"), ("goi toi la bac", "bác"), ("cứ gọi mình là chú nhé", "chú"),
    ("xưng hô với tôi là ông", "ông"), ("Gọi tôi là bà nhé", "bà"), ("gọi tôi là anh/chị", "anh/chị"),
    ("em gọi cô là cô thôi", "cô"), ("Chào em, gọi tôi là ông nhé", "ông"),
    ("tôi tên là Lan", None), ("gọi cán bộ giúp tôi", None), ("gọi tôi là Nam", None),
    ("cán bộ gọi tôi là bác", None),  # said of someone else, e.g. in a complaint
])
def test_what_a_citizen_asks_to_be_called(message: str, form: str | None) -> None:
    assert asked_form(message) == form


def test_the_agency_chooses_anh_chi_or_ong_ba() -> None:
    raw = yaml.safe_load((DATA_DIR / "agency.yml").read_text(encoding="utf-8"))
    assert Agency.from_dict(raw).address_form == "anh/chị"
    assert Agency.from_dict({**raw, "address_form": "Ông/Bà"}).address_form == "ông/bà"
    with pytest.raises(AgencyConfigError, match="address_form"):
        Agency.from_dict({**raw, "address_form": "mày"})


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU) -> Chat:
    nlu.add("em muốn làm giấy khai sinh cho con", "submit_dossier", procedure=KHAI_SINH)
    return make_chat()


def sent(chat: Chat) -> list[str]:
    """What went to the platform (the outbox), in order."""
    with chat.services.sessions() as session:
        rows = session.scalars(select(OutboxMessage.reply).order_by(OutboxMessage.id))
        return [row["text"] for row in rows]


def test_a_citizen_asks_to_be_called_bac_and_every_reply_follows(chat: Chat) -> None:
    chat.say("gọi tôi là bác")
    assert sent(chat)[-1].startswith("Dạ vâng, em xin gọi bác như vậy ạ. Bác cần")
    chat.say("em muốn làm giấy khai sinh cho con")
    consent = sent(chat)[-1]
    assert "Bác có đồng ý không ạ?" in consent and "anh/chị" not in consent.lower()
    chat.press("consent:yes", "Đồng ý")
    chat.press('/card{"do":"type"}', "Tự nhập")  # the ID-card photo offer: typed details here
    assert "anh/chị" not in " ".join(sent(chat)).lower()
    # inside a flow the pending question is asked again, in the new form
    chat.say("cứ gọi tôi là ông nhé")
    assert active_step(chat).id == "applicant_name"
    assert sent(chat)[-2] == "Dạ vâng, em xin gọi ông như vậy ạ." and "ông" in sent(chat)[-1].lower()
    assert "anh/chị" in texts(chat.log[-1][1]).lower()  # texts are written once, with "anh/chị"


def test_the_agency_form_is_the_default(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    agency = dataclasses.replace(Agency.load(), address_form="ông/bà")
    monkeypatch.setattr("bot.transcript.Agency.load", lambda *a, **k: agency)
    chat.say("em muốn làm giấy khai sinh cho con")
    assert "Ông/Bà có đồng ý không ạ?" in sent(chat)[-1]
    chat.say("gọi tôi là chị")  # the citizen's own choice wins
    assert sent(chat)[-2] == text("dialogue.address_set").replace("anh/chị", "chị")
