"""Answers to procedure questions: chat-sized for all 588 procedures, linked, with follow-ups."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import bot.templates
from bot.catalog import answers
from bot.catalog.store import Catalog, Procedure, from_entry
from bot.config import DATA_DIR
from bot.messages import Reply

PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$")


@pytest.fixture(autouse=True)
def catalog_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the catalogue's own texts, so another area's template file cannot break these tests."""
    (tmp_path / "templates").mkdir()
    shutil.copy(DATA_DIR / "templates" / "catalog.yml", tmp_path / "templates")
    monkeypatch.setattr(bot.templates, "DATA_DIR", tmp_path)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The imported entries alone (no curated overlay), so expected texts follow the portal data."""
    procedures = DATA_DIR / "catalog" / "procedures"
    if len(list(procedures.glob("*.json"))) != 588:
        pytest.skip("data/catalog/procedures not imported")
    data = tmp_path_factory.mktemp("data")
    shutil.copytree(procedures, data / "catalog" / "procedures")
    return Catalog.load(data)


@pytest.fixture(scope="module")
def live_catalog() -> Catalog:
    """The catalogue as the bot runs it: imported entries merged with the curated files."""
    return Catalog.load(DATA_DIR)


def get(catalog: Catalog, code: str) -> Procedure:
    procedure = catalog.get(code)
    assert procedure is not None
    return procedure


def check_reply(reply: Reply) -> None:
    assert reply.text and len(reply.text) <= answers.MAX_TEXT
    assert len(reply.buttons) <= 5
    for button in reply.buttons:
        assert button.title and (button.payload or button.url)
        if button.payload:
            m = PAYLOAD.match(button.payload)
            assert m, button.payload
            if m.group("entities"):
                assert isinstance(json.loads(m.group("entities")), dict)


@pytest.mark.parametrize("which", ["catalog", "live_catalog"])
def test_every_procedure_every_intent_fits_a_chat_message(which: str, request: pytest.FixtureRequest) -> None:
    catalog: Catalog = request.getfixturevalue(which)
    assert len(catalog) == 588
    for procedure in catalog.all():
        for intent in answers.INTENTS:
            replies = answers.answer(intent, procedure)
            assert replies, (procedure.code, intent)
            for reply in replies:
                check_reply(reply)
            assert procedure.url in replies[-1].text, (procedure.code, intent)
            where = 0 if answers.handled_here(procedure) else 1  # + where another agency takes it
            assert len(replies) <= answers.MAX_DOCUMENT_MESSAGES + where, (procedure.code, intent)


def test_procedure_overview(catalog: Catalog) -> None:
    (reply,) = answers.answer("ask_procedure", get(catalog, "1.001193"))
    lines = reply.text.splitlines()
    assert lines[0] == "📄 Đăng ký khai sinh (mã 1.001193)"
    assert "Kết quả: Giấy khai sinh." in lines
    assert "⏱ Thời hạn: 1 ngày làm việc" in lines and "💰 Lệ phí: Miễn phí" in lines
    assert "📎 Hồ sơ gồm 8 loại giấy tờ." in lines
    assert [b.payload for b in reply.buttons] == ['/ask_documents{"procedure":"1.001193"}',
                                                  '/ask_fee{"procedure":"1.001193"}',
                                                  '/ask_duration{"procedure":"1.001193"}']


def test_fee_per_mode(catalog: Catalog) -> None:
    reply, police = answers.answer("ask_fee", get(catalog, "1.004222"))  # + where: Công an cấp xã
    assert "- Trực tuyến: 10.000 đồng\n- Trực tiếp: 20.000 đồng" in reply.text
    assert "Công an cấp xã" in police.text
    (free,) = answers.answer("ask_fee", get(catalog, "1.001193"))
    assert "Miễn phí (mọi hình thức nộp)" in free.text
    (local,) = answers.answer("ask_fee", get(catalog, "1.004873"))
    assert "HĐND tỉnh" in local.text
    # Two in-person rows (commune: per page; embassy: USD) are told apart by their description.
    (copy,) = answers.answer("ask_fee", get(catalog, "2.000815"))
    assert "- Trực tiếp: 2.000 đồng/trang" in copy.text and "10 USD/bản (Tại cơ quan đại diện" in copy.text


def test_duration_per_mode(catalog: Catalog) -> None:
    (permit,) = answers.answer("ask_duration", get(catalog, "1.013225"))
    assert "- Trực tuyến, qua bưu chính: 20 ngày\n- Trực tiếp: 15 ngày" in permit.text
    (birth,) = answers.answer("ask_duration", get(catalog, "1.001193"))
    assert "1 ngày làm việc" in birth.text and "chỉ ghi số" in birth.text
    (unknown,) = answers.answer("ask_duration", get(catalog, "1.001612"))
    assert "Cổng DVC chưa ghi thời hạn" in unknown.text


def test_long_document_list_is_split(catalog: Catalog) -> None:
    procedure = get(catalog, "1.013225")
    replies = answers.answer("ask_documents", procedure)
    assert len(replies) == answers.MAX_DOCUMENT_MESSAGES
    numbers = [int(m) for r in replies for m in re.findall(r"^(\d+)\. ", r.text, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    for reply in replies:
        assert len(re.findall(r"^\d+\. ", reply.text, re.MULTILINE)) <= answers.ITEMS_PER_MESSAGE
    assert "giấy tờ khác" in replies[-1].text and procedure.url in replies[-1].text
    assert all(not r.buttons for r in replies[:-1]) and replies[-1].buttons


def test_remarks_are_not_listed_as_documents(catalog: Catalog) -> None:
    replies = answers.answer("ask_documents", get(catalog, "1.001193"))
    text = "\n".join(r.text for r in replies)
    assert "gồm 8 giấy tờ" in text and "0 bản chính" not in text
    assert "Giấy tờ phải xuất trình:" in text


def test_curated_checklist_marks_how_each_item_is_given(catalog: Catalog) -> None:
    base = get(catalog, "1.001193")
    curated = {
        "summary": "Đăng ký khai sinh cho trẻ mới sinh.",
        "checklist": [
            {"name": "Giấy chứng sinh", "how": "upload", "required": True},
            {"name": "Căn cước của người đi đăng ký", "how": "in_person", "required": True},
            {"name": "Văn bản ủy quyền", "how": "upload", "required": False, "allow_not_applicable": True},
            {"name": "Tờ khai đăng ký khai sinh", "how": "fill_in_chat", "required": True},
        ],
    }
    procedure = from_entry(json.loads(json.dumps(base.to_dict())), curated)
    (info,) = answers.answer("ask_procedure", procedure)
    assert "Đăng ký khai sinh cho trẻ mới sinh." in info.text and "Kết quả:" not in info.text
    assert "📎 Hồ sơ gồm 4 loại giấy tờ." in info.text
    (docs,) = answers.answer("ask_documents", procedure)
    assert "1. 📷 Giấy chứng sinh" in docs.text and "2. 🏢 Căn cước của người đi đăng ký" in docs.text
    assert "3. 📷 Văn bản ủy quyền (nếu có)" in docs.text and "4. ✍️ Tờ khai đăng ký khai sinh" in docs.text


def test_submit_button_only_when_the_centre_accepts(catalog: Catalog) -> None:
    procedure = get(catalog, "1.001193")
    (reply,) = answers.answer("ask_fee", procedure, accepted={"1.001193"})
    assert '/submit_dossier{"procedure":"1.001193"}' in [b.payload for b in reply.buttons]
    replies = answers.answer("ask_fee", procedure, accepted={"1.004222"})
    submit = '/submit_dossier{"procedure":"1.001193"}'
    assert all(submit not in [b.payload for b in r.buttons] for r in replies)
    assert "chưa nhận qua tin nhắn" in replies[-1].text and procedure.url in replies[-1].text


def test_not_handled_here_says_who_does(catalog: Catalog) -> None:
    data = get(catalog, "1.001612").to_dict()
    data["levels"] = ["Cấp bộ", "Cấp tỉnh"]
    elsewhere = from_entry(data)
    (reply,) = answers.not_handled_here(elsewhere)
    assert "không giải quyết ở cấp xã" in reply.text
    assert "cơ quan cấp bộ (trung ương) hoặc cơ quan cấp tỉnh" in reply.text and elsewhere.url in reply.text
    assert reply.buttons[0].url == elsewhere.url and reply.buttons[1].payload == "/request_human"
    replies = answers.answer("ask_procedure", elsewhere)
    assert "Nơi thực hiện: cơ quan cấp bộ (trung ương) hoặc cơ quan cấp tỉnh." in replies[0].text
    assert replies[-1] == reply
    assert answers.handled_here(get(catalog, "1.001193")) and not answers.handled_here(elsewhere)


def test_disambiguate_offers_three(catalog: Catalog) -> None:
    candidates = [{"code": c, "name": "x"} for c in ("1.001193", "1.000110", "1.004884", "1.000894")]
    reply = answers.disambiguate(candidates, intent="ask_fee", catalog=catalog)
    assert reply.text.startswith("Anh/Chị muốn hỏi thủ tục nào ạ?")
    assert len(reply.buttons) == 3
    assert reply.buttons[0].payload == '/ask_fee{"procedure":"1.001193"}'
    assert reply.buttons[0].title == "Đăng ký khai sinh" and "1. Đăng ký khai sinh" in reply.text
    check_reply(reply)
    plain = answers.disambiguate([get(catalog, "1.000894")])
    assert plain.buttons[0].payload == '/ask_procedure{"procedure":"1.000894"}'


def test_ask_which_procedure_offers_common_fields() -> None:
    reply = answers.ask_which_procedure()
    titles = [b.title for b in reply.buttons]
    assert titles == ["Hộ tịch", "Cư trú", "Chứng thực", "Hộ kinh doanh", "Xây dựng"]
    assert reply.buttons[0].payload == '/ask_procedure{"field":"Hộ tịch"}'
    check_reply(reply)


def test_field_buttons_lead_to_procedures(catalog: Catalog) -> None:
    for label, _ in answers.COMMON_FIELDS:
        reply = answers.field_procedures(label, catalog)
        assert reply.buttons, label
        for button in reply.buttons:
            m = PAYLOAD.match(button.payload or "")
            assert m and m.group("intent") == "ask_procedure"
            assert catalog.get(json.loads(m.group("entities"))["procedure"]) is not None
    reply = answers.field_procedures("Cư trú", catalog)
    codes = [json.loads((b.payload or "")[len("/ask_procedure"):])["procedure"] for b in reply.buttons]
    assert codes and all("cư trú" in get(catalog, code).field.lower() for code in codes)


def test_unknown_intent_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError):
        answers.answer("greet", get(catalog, "1.001193"))


def test_same_day_procedures_say_so(live_catalog: Catalog) -> None:
    """Value 0 (chứng thực, Điều 7 NĐ 23/2015): 'trong ngày' with the 15:00 rule, never '0 ngày'."""
    for code in ("2.000815", "2.000884"):
        procedure = get(live_catalog, code)
        assert [m.duration_value for m in procedure.modes] == [0]
        assert "23/2015/NĐ-CP" in procedure.modes[0].duration_text  # staff see where the time comes from
        for replies in (answers.duration(procedure), answers.procedure_info(procedure)):
            body = replies[0].text or ""
            assert "trong ngày" in body.lower() and "15 giờ" in body, body
            assert "0 ngày" not in body, body
    unknown = answers.duration(get(live_catalog, "2.000635"))[0].text or ""
    assert "chưa ghi thời hạn" in unknown
