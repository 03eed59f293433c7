"""The loader marks a flow's card fields by the slot convention and adds the card offer after the consent."""

from __future__ import annotations

import pytest

from flows.card import CardOffer, PersonField, copy_document, split
from flows.loader import FlowError, load_flows, parse_flow

FLOW = {
    "flow": "demo", "title": "Demo", "procedure": "1.001193",
    "steps": [
        "consent",
        {"collect": "applicant_name", "type": "person_name", "label": "Họ tên", "ask": "Họ tên?"},
        {"collect": "applicant_id_number", "type": "id_number", "label": "Số định danh", "ask": "Số?"},
        {"collect": "applicant_birth_date", "type": "date", "label": "Ngày sinh", "ask": "Ngày sinh?"},
        {"collect": "child_name", "type": "person_name", "label": "Tên bé", "ask": "Tên bé?"},
        {"collect": "deceased_name", "type": "person_name", "label": "Người mất", "ask": "Tên?"},
        {"collect": "deceased_id_number", "type": "id_number", "label": "Số của người mất", "ask": "Số?"},
        "confirm", "submit",
    ],
}


def test_card_fields_and_the_offer() -> None:
    flow = parse_flow(FLOW, "demo.yml")
    assert [s.id for s in flow.steps][:2] == ["consent", "id_card"]
    offer = flow.step("id_card")
    assert isinstance(offer, CardOffer) and offer.person == "applicant" and offer.waits
    marked = {s.id: (s.person, s.suffix) for s in flow.steps if isinstance(s, PersonField)}
    assert marked == {  # the child has no ID number asked: not a card field
        "applicant_name": ("applicant", "name"), "applicant_id_number": ("applicant", "id_number"),
        "applicant_birth_date": ("applicant", "birth_date"), "deceased_name": ("deceased", "name"),
        "deceased_id_number": ("deceased", "id_number")}
    assert [s.id for s in flow.fields] == [s["collect"] for s in FLOW["steps"] if isinstance(s, dict)]


def test_flows_without_an_id_number_are_unchanged() -> None:
    steps = [s for s in FLOW["steps"] if not (isinstance(s, dict) and s["collect"].endswith("id_number"))]
    flow = parse_flow({**FLOW, "steps": steps}, "demo.yml")
    assert not any(isinstance(s, CardOffer | PersonField) for s in flow.steps)


def test_split_and_every_identity_flow_has_the_offer() -> None:
    assert split("mother_birth_date") == ("mother", "birth_date")
    assert split("applicant_id_number") == ("applicant", "id_number") and split("phone") is None
    for flow in load_flows().values():
        asks_id = any(s.id.endswith("_id_number") for s in flow.steps)
        assert asks_id == any(isinstance(s, CardOffer) for s in flow.steps), flow.name


def _with_copy(**document: object) -> dict:
    copy = {"document": "ban_sao_the", "label": "Bản sao thẻ căn cước", "count": "1-2", **document}
    return {**FLOW, "steps": [*FLOW["steps"][:-2], copy, *FLOW["steps"][-2:]]}


def test_a_card_copy_names_a_person_whose_id_number_is_asked() -> None:
    flow = parse_flow(_with_copy(card_of="deceased"), "demo.yml")
    assert copy_document(flow.steps, "deceased") is flow.step("ban_sao_the")
    assert copy_document(flow.steps, "applicant") is None
    for card_of, says in (("chu_ho", "names no person of this flow"), ("child", "asks no child_id_number")):
        with pytest.raises(FlowError, match=says) as refused:
            parse_flow(_with_copy(card_of=card_of), "demo.yml")
        assert "demo.yml: document ban_sao_the" in str(refused.value)
    with pytest.raises(FlowError, match="accept photos"):
        parse_flow(_with_copy(card_of="applicant", accept=["pdf"]), "demo.yml")
    with pytest.raises(FlowError, match="two sides"):
        parse_flow(_with_copy(card_of="applicant", count=1), "demo.yml")


def test_ho_kinh_doanh_files_the_applicants_card_as_the_authorisers_copy() -> None:
    flow = load_flows()["ho_kinh_doanh"]
    copy = copy_document(flow.steps, "applicant")
    assert copy is not None and copy.id == "ban_sao_the_can" and copy.when  # only when filed by another
