"""The official forms in the chat: conditional documents follow the earlier answers, required proofs cannot
be skipped, and the flows' cross-field checks (ages, dates in order, exclusions) refuse the answer that
breaks them and ask it again. The conversations run on Tuesday 24/11/2026 (tests/conftest.py clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

import flows.dialogue
from bot.agency import Agency
from flows.context import payload
from flows.loader import load_flows

from .chat import Chat, ScriptedNLU, active_step, answer_step, button, texts

FLOWS = load_flows()


@pytest.fixture
def chat(make_chat: Callable[..., Chat], nlu: ScriptedNLU, monkeypatch: pytest.MonkeyPatch) -> Chat:
    # A centre with a commune-police desk that takes residence (cư trú) dossiers in the chat, so every
    # curated form can be walked (by default cư trú is filed with the police: data/agency.yml).
    base = Agency.load()
    desk = replace(base, hosted_desks=frozenset({"police"}),
                   accepted_procedures=base.accepted_procedures | {f.procedure for f in FLOWS.values()
                                                                   if f.procedure})
    monkeypatch.setattr(flows.dialogue, "_agency", lambda: desk)
    return make_chat()


def start(chat: Chat, flow: str) -> None:
    chat.press(payload("submit_dossier", procedure=FLOWS[flow].procedure))
    if active_step(chat).type == "consent":
        chat.press("consent:yes", "Đồng ý")
    assert chat.state()["active"]["flow"] == flow


def walk(chat: Chat, *, until: str | None = None, choose: dict[str, str] | None = None) -> list[str]:
    """Answer every question (or up to `until`) with valid answers; the ids of the steps asked."""
    asked: list[str] = []
    for _ in range(80):
        step = active_step(chat)
        if step is None or step.id == until or step.type == "confirm":
            return asked
        asked.append(step.id)
        answer_step(chat, step, choose=choose)
    raise AssertionError(f"flow did not reach its end: {asked[-5:]}")


def test_marriage_ages_are_checked_on_the_registration_date(chat: Chat) -> None:
    start(chat, "ket_hon")
    walk(chat, until="husband_birth_date", choose={"applicant_side": "Bên nam"})
    refused = chat.say("25/11/2006")  # 20 years old tomorrow
    assert "20 tuổi" in texts(refused) and active_step(chat).id == "husband_birth_date"
    assert "husband_birth_date" not in chat.state()["active"]["slots"]
    chat.say("24/11/2006")  # 20 today
    assert active_step(chat).id == "husband_ethnicity"
    walk(chat, until="wife_birth_date", choose={"applicant_side": "Bên nam"})
    refused = chat.say("25/11/2008")
    assert "18 tuổi" in texts(refused) and active_step(chat).id == "wife_birth_date"
    chat.say("24/11/2008")
    assert active_step(chat).id == "wife_ethnicity"
    summary = walk(chat, choose={"applicant_side": "Bên nam"}) and chat.log[-1][1]
    assert active_step(chat).type == "confirm"
    # a correction from the summary is checked too, and leads back to the summary
    chat.say("sửa ngày sinh của bên nữ")
    assert active_step(chat).id == "wife_birth_date"
    refused = chat.say("01/01/2010")
    assert "18 tuổi" in texts(refused) and active_step(chat).id == "wife_birth_date"
    summary = chat.say("01/01/1999")
    assert active_step(chat).type == "confirm" and "01/01/1999" in texts(summary)


def test_the_applicant_is_not_asked_their_own_name_twice_in_ket_hon(chat: Chat) -> None:
    start(chat, "ket_hon")
    asked = walk(chat, choose={"applicant_side": "Bên nữ"})
    assert "husband_name" in asked and "wife_name" not in asked and "wife_birth_date" in asked


def test_a_married_person_cannot_get_a_certificate_to_marry(chat: Chat) -> None:
    start(chat, "xac_nhan_hon_nhan")
    walk(chat, until="marital_status", choose={"purpose": "Để đăng ký kết hôn"})
    refused = chat.say("Đang có vợ/chồng")
    assert "không được cấp" in texts(refused) and active_step(chat).id == "marital_status"
    asked = walk(chat, choose={"marital_status": "Đã ly hôn"})
    assert "ban_an_ly_hon" in asked and "trich_luc_khai_tu" not in asked
    assert FLOWS["xac_nhan_hon_nhan"].step("ban_an_ly_hon").none_answer == ""  # required


def test_the_spouse_death_certificate_is_asked_when_the_spouse_died(chat: Chat) -> None:
    start(chat, "xac_nhan_hon_nhan")
    asked = walk(chat, choose={"purpose": "Mục đích khác", "marital_status": "Vợ/chồng đã mất"})
    assert "trich_luc_khai_tu" in asked and "ban_an_ly_hon" not in asked
    assert "purpose_detail" in asked and "fiance_name" not in asked


@pytest.mark.parametrize(("kind", "asked", "not_asked"), [
    ("Giám hộ đương nhiên", "giay_to_chung_minh", "van_ban_cu_nguoi"),
    ("Giám hộ cử", "van_ban_cu_nguoi", "giay_to_chung_minh"),
])
def test_guardianship_asks_only_the_document_of_its_type(chat: Chat, kind: str, asked: str,
                                                         not_asked: str) -> None:
    start(chat, "giam_ho")
    steps = walk(chat, choose={"guardianship_type": kind})
    assert asked in steps and not_asked not in steps and "van_ban_uy_quyen" not in steps


@pytest.mark.parametrize(("case", "asked", "not_asked"), [
    ("Nhà thuê, mượn, ở nhờ", {"hop_dong_van_ban", "owner_consent"},
     {"giay_to_tai_lieu", "giay_to_tai_lieu_2"}),
    ("Nhà của người thân (vợ/chồng, cha mẹ, con...)", {"giay_to_tai_lieu_2"},
     {"giay_to_tai_lieu", "hop_dong_van_ban", "owner_consent"}),
    ("Nhà thuộc sở hữu của tôi", {"giay_to_tai_lieu"}, {"giay_to_tai_lieu_2", "hop_dong_van_ban"}),
])
def test_permanent_residence_asks_per_case_and_the_relationship_to_the_householder(
        chat: Chat, case: str, asked: set[str], not_asked: set[str]) -> None:
    start(chat, "thuong_tru")
    steps = set(walk(chat, choose={"residence_case": case, "householder_relationship": "Con"}))
    assert asked <= steps and not (not_asked & steps)
    assert {"householder_relationship", "householder_name", "householder_consent"} <= steps


def test_the_householder_must_agree(chat: Chat) -> None:
    start(chat, "thuong_tru")
    walk(chat, until="householder_consent", choose={"householder_relationship": "Con"})
    refused = chat.say("Chủ hộ chưa đồng ý")
    assert "chủ hộ đồng ý" in texts(refused) and active_step(chat).id == "householder_consent"


def test_a_minor_needs_the_parents_consent(chat: Chat) -> None:
    start(chat, "tam_tru")
    walk(chat, until="applicant_birth_date")
    chat.say("01/01/2012")
    walk(chat, until="guardian_consent")
    refused = chat.say("Đã đủ 18 tuổi")
    assert "chưa đủ 18 tuổi" in texts(refused) and active_step(chat).id == "guardian_consent"
    chat.say("Dưới 18 tuổi, cha/mẹ hoặc người giám hộ đồng ý")
    assert active_step(chat).id != "guardian_consent"


def test_dates_in_order(chat: Chat) -> None:
    start(chat, "tam_vang")
    walk(chat, until="absence_to")
    chat_from = chat.state()["active"]["slots"]["absence_from"]
    refused = chat.say("30/11/2026")  # before the start (01/12/2026)
    assert chat_from == "2026-12-01" and "sau ngày bắt đầu" in texts(refused)
    assert active_step(chat).id == "absence_to"


def test_birth_registration_branches_on_the_case(chat: Chat) -> None:
    start(chat, "khai_sinh")
    abandoned = set(walk(chat, choose={"birth_case": "Trẻ bị bỏ rơi"}))
    assert "bien_ban_ve_viec" in abandoned and "mother_name" not in abandoned
    assert not {"birth_proof", "giay_chung_sinh", "van_ban_xac_nhan"} & abandoned
    assert {"child_ethnicity", "child_nationality", "child_hometown"} <= abandoned
    assert FLOWS["khai_sinh"].step("bien_ban_ve_viec").none_answer == ""


def test_birth_registration_of_a_surrogate_birth_and_without_a_birth_certificate(
        chat: Chat, make_chat: Callable[..., Chat]) -> None:
    start(chat, "khai_sinh")
    steps = set(walk(chat, choose={"birth_case": "Trẻ sinh ra do mang thai hộ",
                                   "birth_proof": "Không có (sinh ngoài cơ sở y tế)"}))
    assert {"van_ban_xac_nhan", "van_ban_cua_nguoi", "mother_name"} <= steps
    assert not {"giay_chung_sinh", "bien_ban_ve_viec"} & steps
    other = make_chat(user="citizen-2")
    start(other, "khai_sinh")
    steps = set(walk(other, choose={"birth_proof": "Cơ sở y tế đã gửi Giấy chứng sinh điện tử"}))
    assert not {"giay_chung_sinh", "van_ban_cua_nguoi", "van_ban_xac_nhan", "bien_ban_ve_viec"} & steps


def test_the_linked_birth_flow_says_nothing_of_the_abolished_household_book(chat: Chat) -> None:
    start(chat, "lien_thong_khai_sinh")
    walk(chat)
    assert active_step(chat).type == "confirm"
    said = "\n".join(texts(replies) for _, replies in chat.log)
    assert "hộ khẩu" not in said.lower() and "Cơ sở dữ liệu về cư trú" in said
    assert button(chat.log[-1][1], "Nộp hồ sơ")


def test_a_place_is_not_taken_for_the_child_ethnicity_or_nationality(chat: Chat) -> None:
    start(chat, "khai_sinh")
    walk(chat, until="child_ethnicity")
    place = "Trạm Y tế xã Tiên Lãng, thành phố Hải Phòng"
    refused = chat.say(place)
    assert active_step(chat).id == "child_ethnicity"
    assert "child_ethnicity" not in chat.state()["active"]["slots"]
    assert "54 dân tộc" in texts(refused) and "Kinh" in texts(refused)
    chat.say("dân tộc kinh ạ")
    assert active_step(chat).id == "child_nationality"
    refused = chat.say(place)
    assert active_step(chat).id == "child_nationality" and "tên nước" in texts(refused)
    chat.say("vn")
    active = chat.state()["active"]
    assert active["slots"]["child_ethnicity"] == "Kinh" and active["slots"]["child_nationality"] == "Việt Nam"
    assert active["display"]["child_nationality"] == "Việt Nam"
    walk(chat)
    assert active_step(chat).type == "confirm" and "Việt Nam" in texts(chat.log[-1][1])
