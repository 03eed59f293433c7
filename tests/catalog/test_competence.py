"""Competent agency: the portal's "Cơ quan thực hiện" read into kinds and names, routes at this centre,
answers that name the agency, and the catalogue texts cleaned at import (legal basis, fees, notes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bot.agency import Agency
from bot.catalog import answers, competence, parse
from bot.catalog.routing import Desk, route
from bot.catalog.store import Catalog, Procedure
from bot.config import DATA_DIR

RAW_DIR = Path(__file__).resolve().parents[3] / "shared" / "catalog" / "raw"
RESIDENCE = ("1.004222", "1.004194", "1.002755", "1.003677", "1.010041", "1.010038")
WRONG_PLACE = ("nộp tại Trung tâm", "nộp trực tiếp tại Trung tâm", "mang hồ sơ đến Trung tâm")
TABLE = competence.load_table()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    if len(list((DATA_DIR / "catalog" / "procedures").glob("*.json"))) != 588:
        pytest.skip("data/catalog/procedures not imported")
    return Catalog.load(DATA_DIR)


@pytest.fixture(scope="module")
def agency() -> Agency:
    return Agency.load()


def get(catalog: Catalog, code: str) -> Procedure:
    p = catalog.get(code)
    assert p is not None
    return p


# ------------------------------------------------------------------------------- names and kinds


@pytest.mark.parametrize(("text", "names"), [
    ("Thuế tỉnh, thành phố, Thuế cơ sở", ["Thuế tỉnh, thành phố", "Thuế cơ sở"]),
    ("Ủy ban Nhân dân\xa0xã,\xa0phường,\xa0thị trấn.", ["Ủy ban nhân dân xã, phường, thị trấn"]),
    ("Cục Thuế - Bộ tài chính, Thuế cơ sở", ["Cục Thuế - Bộ Tài chính", "Thuế cơ sở"]),
    ("Công an tỉnh, Cục cảnh sát giao thông, Công an cấp Xã",
     ["Công an tỉnh", "Cục cảnh sát giao thông", "Công an cấp xã"]),
    ("Uỷ ban Nhân dân cấp xã, phường, thị trấn", ["Ủy ban nhân dân cấp xã, phường, thị trấn"]),
    ("Không có thông tin", []),
    ("", []),
])
def test_agency_names_are_split_and_normalised(text: str, names: list[str]) -> None:
    assert competence.split_names(text) == names


@pytest.mark.parametrize(("name", "kind"), [
    ("Công an cấp xã", "police"), ("Cục cảnh sát giao thông", "police"), ("Thuế cơ sở", "tax"),
    ("Chi cục Hải quan khu vực", "customs"), ("Bảo hiểm xã hội cấp huyện", "social_insurance"),
    ("Kho bạc nhà nước các cấp", "treasury"), ("Chi nhánh Văn phòng đăng ký đất đai", "land_office"),
    ("Ủy ban nhân dân xã, phường, thị trấn", "centre"), ("Chủ tịch UBND cấp xã", "centre"),
    ("Cơ quan quản lý đất đai cấp xã", "centre"), ("Sở Xây dựng", "other"),
    ("Bộ Công an", "other"),  # a ministry is not the commune police
])
def test_kind_of_one_agency_name(name: str, kind: str) -> None:
    assert competence.kind_of_name(name, TABLE) == kind


def test_classification_rules() -> None:
    classify = competence.classify
    police = classify({"co_quan_thuc_hien": "Công an cấp Xã", "linh_vuc": "Đăng ký, quản lý cư trú"}, TABLE)
    assert (police.kind, police.names, police.source) == ("police", ("Công an cấp xã",), "co_quan_thuc_hien")
    # Nothing named: the competent authority field, then the field, then the commune (flagged at import).
    assert classify({"co_quan_thuc_hien": "Không có thông tin", "co_quan_co_tham_quyen": "Công an cấp Xã",
                     "linh_vuc": "Người có công"}, TABLE).kind == "police"
    assert classify({"co_quan_thuc_hien": "Không có thông tin", "linh_vuc": "Thuế"}, TABLE).kind == "tax"
    unstated = classify({"co_quan_thuc_hien": "Không có thông tin", "linh_vuc": "Thủy lợi"}, TABLE)
    assert (unstated.kind, unstated.source) == ("centre", "default")
    # Chứng thực is the commune's by law even when the portal lists only notaries.
    assert classify({"co_quan_thuc_hien": "Tổ chức hành nghề công chứng", "linh_vuc": "Chứng thực"},
                    TABLE).kind == "centre"
    # The commune among several bodies receives: it is the centre's; the nearest office is named first.
    mixed = classify({"co_quan_thuc_hien": "Sở Xây dựng, Uỷ ban Nhân dân cấp xã, phường, thị trấn"}, TABLE)
    assert mixed.kind == "centre"
    tax = classify({"co_quan_thuc_hien": "Cục Thuế - Bộ tài chính, Thuế tỉnh, thành phố, Thuế cơ sở"}, TABLE)
    assert tax.names[0] == "Thuế cơ sở"


def test_online_channels_only_as_the_page_states() -> None:
    text = "Nộp qua Cổng dịch vụ công quốc gia, Cổng dịch vụ công Bộ Công an, ứng dụng VNeID"
    assert competence.channels_of(text, True, TABLE) == ["vneid", "bca_portal", "national_portal"]
    assert competence.channels_of(text, False, TABLE) == []  # no online mode: no channel
    assert competence.channels_of("Nộp trực tuyến", True, TABLE) == ["national_portal"]
    tax = "Cổng thông tin điện tử của ngành Thuế (thuedientu.gdt.gov.vn)"
    assert "tax_portal" in competence.channels_of(tax, True, TABLE)


@pytest.mark.skipif(not any(RAW_DIR.glob("*.json")), reason="shared/catalog/raw not available")
def test_portal_pages_classify_as_the_issue_found() -> None:
    def kind(code: str) -> str:
        raw = json.loads((RAW_DIR / f"{code}.json").read_text(encoding="utf-8"))
        return competence.classify(raw, TABLE).kind

    assert kind("1.000005") == "customs" and kind("1.003197") == "police"
    assert all(kind(code) == "police" for code in RESIDENCE)
    assert kind("1.001193") == "centre" and kind("2.000815") == "centre" and kind("1.001612") == "centre"


# ------------------------------------------------------------------------------- routes


def test_routes_follow_the_agency_configuration(catalog: Catalog, agency: Agency) -> None:
    assert route(get(catalog, "1.001193"), agency) == "bot"
    assert route(get(catalog, "1.005461"), agency) == "in_person"
    for code in RESIDENCE:
        assert route(get(catalog, code), agency) == "other_agency", code
    desk = replace(agency, hosted_desks=frozenset({"police"}),
                   accepted_procedures=agency.accepted_procedures | set(RESIDENCE))
    assert all(route(get(catalog, code), desk) == "bot" for code in RESIDENCE)
    assert route(get(catalog, "1.003197"), desk) == "in_person"  # police desk, not accepted in the chat
    assert route(get(catalog, "1.000005"), desk) == "other_agency"
    # A police code listed as accepted without a police desk is still the police's.
    assert Desk(frozenset({"1.004194"})).route(get(catalog, "1.004194")) == "other_agency"


# ------------------------------------------------------------------------------- answers


def test_other_agency_is_named_with_its_channels_never_the_centre(catalog: Catalog, agency: Agency) -> None:
    for p in catalog.all():
        if route(p, agency) != "other_agency":
            continue
        said = "\n".join(r.text for r in answers.answer("ask_procedure", p, agency))
        assert answers.agency_name(p) in said, p.code
        assert not any(w in said for w in WRONG_PLACE), p.code
    replies = answers.where(get(catalog, "1.004194"), agency, asked_to_submit=True)
    temporary = "\n".join(r.text for r in replies)
    assert "Công an cấp xã" in temporary and "ứng dụng VNeID" in temporary
    assert "https://dichvucong.bocongan.gov.vn" in temporary and get(catalog, "1.004194").url in temporary
    assert "chưa nhận qua tin nhắn" in temporary


def test_in_person_only_says_come_to_the_centre(catalog: Catalog, agency: Agency) -> None:
    p = get(catalog, "1.005461")
    reply = answers.where(p, agency, asked_to_submit=True)[-1]
    assert agency.name in reply.text and agency.address in reply.text and "7:30–11:30" in reply.text
    assert "chỉ nhận hồ sơ trực tiếp" in reply.text
    assert '/submit_dossier{"procedure":"1.005461"}' not in [b.payload for b in reply.buttons]


def test_no_internal_note_reaches_a_citizen(catalog: Catalog, agency: Agency) -> None:
    for p in catalog.all():
        for intent in answers.INTENTS:
            said = "\n".join(r.text for r in answers.answer(intent, p, agency))
            assert "Nguồn không ghi" not in said and "nguồn ghi" not in said.lower(), (p.code, intent)


def test_fee_amounts_not_circulars(catalog: Catalog, agency: Agency) -> None:
    (fee, *_) = answers.answer("ask_fee", get(catalog, "1.000894"), agency)
    assert "8.000 đồng/bản" in fee.text and "281/2016" not in fee.text
    note = ("Phí cấp bản sao Trích lục (nếu có yêu cầu) thực hiện theo quy định tại Thông tư số "
            "281/2016/TT-BTC ngày 14/11/2016 của Bộ Tài chính.")
    assert answers.amounts_for_circulars(note) == "Phí cấp bản sao Trích lục (nếu có yêu cầu) 8.000 đồng/bản."


def test_temporary_residence_in_person_fee_is_not_the_group_rate(catalog: Catalog) -> None:
    (fee, *_) = answers.answer("ask_fee", get(catalog, "1.004194"))
    in_person = next(line for line in fee.text.splitlines() if line.startswith("- Trực tiếp"))
    assert "10.000" not in in_person and "không ghi" in in_person
    assert "- Trực tuyến: 7.000 đồng" in fee.text


def test_checklist_notes_keep_their_alternative(catalog: Catalog) -> None:
    (docs, *_) = answers.answer("ask_documents", get(catalog, "1.001193"))
    # Longer than the old 100-character cut: the alternative proof must still be there.
    assert "Không có Giấy chứng sinh thì nộp giấy tờ ở mục tiếp theo." in docs.text


def test_abolished_household_book_is_not_asked_for() -> None:
    for path in sorted((DATA_DIR / "catalog" / "curated").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data.get("checklist") or ():
            assert "sổ hộ khẩu" not in str(item["name"]).lower(), (path.stem, item["name"])
        assert "sổ hộ khẩu" not in str(data.get("summary") or "").lower(), path.stem


def test_legal_basis_shown_with_the_portal_link(catalog: Catalog, agency: Agency) -> None:
    p = get(catalog, "1.004222")
    (info, *_) = answers.answer("ask_procedure", p, agency)
    assert "📚 Căn cứ pháp lý:" in info.text and p.url in info.text


# ------------------------------------------------------------------------------- legal basis at import


@pytest.mark.parametrize(("text", "expected"), [
    ("Tên văn bản pháp lýMã văn bảnLuật Cư trú 202068/2020/QH14",
     [("Luật Cư trú 2020", "68/2020/QH14")]),
    ("Tên văn bản pháp lýMã văn bảnThông tư số 53/2025/TT-BCAngày 01/7/2025 của Bộ Công an sửa đổi"
     "53/2025/TT-BCALuật Căn cước26/2023/QH15",
     [("Thông tư số 53/2025/TT-BCA ngày 01/7/2025 của Bộ Công an sửa đổi", "53/2025/TT-BCA"),
      ("Luật Căn cước", "26/2023/QH15")]),
    ("Tên văn bản pháp lýMã văn bảnQuy định chi tiết luật phòng cháy105/2025/NĐ-CPsửa đổi một số Nghị định"
     "14/2026/NĐ-CP",
     [("Quy định chi tiết luật phòng cháy", "105/2025/NĐ-CP"),
      ("Sửa đổi một số Nghị định", "14/2026/NĐ-CP")]),
    ("Tên văn bản pháp lýMã văn bảnNghị định về kinh doanh166/2016/NĐ-CPLUẬT QUẢN LÝ THUẾ38/2019/QH14",
     [("Nghị định về kinh doanh", "166/2016/NĐ-CP"), ("LUẬT QUẢN LÝ THUẾ", "38/2019/QH14")]),
    ("Tên văn bản pháp lýMã văn bảnNghị định một cửa118/2025/NĐ-C",
     [("Nghị định một cửa", "118/2025/NĐ-CP")]),
])
def test_garbled_legal_basis_is_cleaned(text: str, expected: list[tuple[str, str]]) -> None:
    found = parse.parse_legal_basis(text)
    assert [(lb.title, lb.number) for lb in found] == expected
    assert all(not lb.anomalies for lb in found)


def test_unclean_legal_numbers_are_flagged() -> None:
    assert parse.LegalBasis("Quyết định 24/2024 của UBND tỉnh", "24/2024").anomalies == ("legal_number_odd",)
    assert parse.LegalBasis("Nghị quyết", "66.7/2025/NQ-CP").anomalies == ()


def test_import_report_counts_routes_by_agency() -> None:
    report = (DATA_DIR / "catalog" / "import-report.md").read_text(encoding="utf-8")
    assert "## Competent agencies and where this centre takes them" in report
    assert "| police (Công an) |" in report and "`agency_unstated`" in report
    assert "Legal-basis entries repaired at import" in report


def test_checklist_of_another_agency_has_no_chat_marks(catalog: Catalog, agency: Agency) -> None:
    *docs, where = answers.answer("ask_documents", get(catalog, "1.004222"), agency)
    listed = "\n".join(r.text for r in docs)
    assert "cần chuẩn bị" in listed and "📷" not in listed and "✍️" not in listed
    assert "Công an cấp xã" in where.text and "liệt kê giấy tờ" not in where.text  # already listed
    (own, *_) = answers.answer("ask_documents", get(catalog, "1.001193"), agency)
    assert "📷 Giấy chứng sinh" in own.text  # taken in the chat: the marks say how each is given


def test_a_cut_display_name_never_ends_on_a_linking_word() -> None:
    name = ("Thủ tục hải quan, giám sát hải quan đối với hàng hóa vận chuyển giữa kho chứa hàng miễn thuế "
            "với tàu bay để bán hàng miễn thuế trên các chuyến bay quốc tế")
    short = parse.short_name(name)
    assert short.endswith("miễn thuế…") and len(short) <= 91
    tax = ("Khai thuế thu nhập cá nhân tháng/quý của tổ chức, cá nhân trả thu nhập thực hiện khấu trừ thuế "
           "đối với thu nhập từ tiền lương")
    assert parse.short_name(tax).endswith("khấu trừ…")
