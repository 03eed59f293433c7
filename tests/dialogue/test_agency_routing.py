"""Where the dialogue sends a citizen: this centre through the chat, this centre in person, or another agency.

Residence (cư trú) belongs to the commune police: by default the bot names Công an cấp xã and its online
channels instead of starting the flow; a centre that hosts a police desk (data/agency.yml `hosted_desks`)
takes the same procedures through the chat. The last test runs a sample of the question set
(tests/catalog/agency_questions.yml) through the real NLU server.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

import flows.dialogue
from bot.agency import Agency
from bot.config import Settings
from bot.models import Dossier
from bot.services import Services
from flows.context import payload
from flows.loader import load_flows

from .chat import Chat, ScriptedNLU, active_step, complete, texts

# The benchmark's judge, loaded by path: putting benchmarks/ on sys.path would shadow packages (limits).
_spec = importlib.util.spec_from_file_location(
    "benchmark_agencies", Path(__file__).resolve().parents[2] / "benchmarks" / "agencies.py")
assert _spec is not None and _spec.loader is not None
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
judge, load_questions = _bench.judge, _bench.load_questions

RESIDENCE = {"1.004222": "thuong_tru", "1.004194": "tam_tru", "1.002755": "gia_han_tam_tru",
             "1.003677": "tam_vang", "1.010041": "xac_nhan_cu_tru", "1.010038": "tach_ho"}
WRONG_PLACE = ("nộp tại Trung tâm", "nộp trực tiếp tại Trung tâm", "mang hồ sơ đến Trung tâm")


@pytest.fixture
def police_desk(monkeypatch: pytest.MonkeyPatch) -> Agency:
    """This centre with a commune-police desk that takes the residence procedures in the chat."""
    base = Agency.load()
    agency = replace(base, hosted_desks=frozenset({"police"}),
                     accepted_procedures=base.accepted_procedures | set(RESIDENCE))
    monkeypatch.setattr(flows.dialogue, "_agency", lambda: agency)
    return agency


def test_residence_flows_exist_for_a_centre_with_a_police_desk() -> None:
    by_procedure = {f.procedure: name for name, f in load_flows().items() if f.procedure}
    assert {code: by_procedure.get(code) for code in RESIDENCE} == RESIDENCE


@pytest.mark.parametrize("code", sorted(RESIDENCE))
def test_residence_goes_to_the_commune_police_by_default(code: str, make_chat: Callable[..., Chat],
                                                         nlu: ScriptedNLU) -> None:
    chat = make_chat()
    replies = chat.press(payload("submit_dossier", procedure=code))
    said = texts(replies)
    assert active_step(chat) is None and chat.state().get("active") is None
    assert "Công an cấp xã" in said and "VNeID" in said and "dichvucong.bocongan.gov.vn" in said
    assert "chưa nhận qua tin nhắn" in said
    assert not any(p in said for p in WRONG_PLACE), said


def test_a_police_desk_takes_residence_in_the_chat(police_desk: Agency, make_chat: Callable[..., Chat],
                                                   nlu: ScriptedNLU) -> None:
    chat = make_chat()
    chat.press(payload("submit_dossier", procedure="1.004194"))
    assert chat.state()["active"]["flow"] == "tam_tru" and active_step(chat) is not None
    receipt = complete(chat)
    with chat.services.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
    assert dossier.procedure_code == "1.004194" and dossier.code in texts(receipt)


def test_in_person_only_gives_the_centre_address_and_hours(make_chat: Callable[..., Chat],
                                                           nlu: ScriptedNLU) -> None:
    agency = Agency.load()
    chat = make_chat()
    replies = chat.press(payload("submit_dossier", procedure="1.005461"))  # đăng ký lại khai tử
    said = texts(replies)
    assert chat.state().get("active") is None
    assert "chỉ nhận hồ sơ trực tiếp" in said and agency.address in said and "Giờ tiếp nhận" in said


def test_where_question_about_a_procedure_is_not_the_office_card(make_chat: Callable[..., Chat],
                                                                 nlu: ScriptedNLU) -> None:
    nlu.add("đăng ký tạm trú nộp ở đâu", "ask_office", procedure="1.004194")
    nlu.add("trung tâm ở đâu", "ask_office")
    chat = make_chat()
    said = texts(chat.say("đăng ký tạm trú nộp ở đâu"))
    assert "Công an cấp xã" in said and Agency.load().address not in said
    assert Agency.load().address in texts(chat.say("trung tâm ở đâu"))


@pytest.fixture
def real_services(nlu_settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(nlu_settings)


@pytest.mark.rasa
def test_question_set_sample_end_to_end(real_services: Services) -> None:
    """30 questions of the set, through the real NLU and dialogue: right agency and figure for nearly all
    (the full set is benchmarks/agencies.py)."""
    entries = load_questions()
    cases = random.Random(7).sample([(e, q) for e in entries for q in e["questions"]], 30)
    centre = Agency.load().name
    wrong = []
    for n, (entry, question) in enumerate(cases):
        chat = Chat(services=real_services, user=f"asker-{n}")
        said = texts(chat.say(question["text"]))
        ok, why = judge(entry, question, said, centre)
        if not ok:
            wrong.append((entry["code"], question["text"], why))
    assert len(wrong) <= 1, wrong
