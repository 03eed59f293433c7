"""Parsers of the portal's flattened tables, on literal strings and on all 588 raw pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.catalog import parse

RAW_DIR = Path(__file__).resolve().parents[3] / "shared" / "catalog" / "raw"
RAW_FILES = sorted(RAW_DIR.glob("*.json"))
needs_raw = pytest.mark.skipif(not RAW_FILES, reason="shared/catalog/raw not available")

UNITS = {"working_day", "day", "month", "hour", None}


def test_modes_table_three_free_rows() -> None:
    text = ("Hình thức nộpThời gianPhí, lệ phíMô tả"
            "Trực tuyến1Miễn phíDịch vụ bưu chính1Miễn phíTrực tiếp1Miễn phí")
    rows = parse.parse_modes(text)
    assert [r.mode for r in rows] == ["online", "postal", "in_person"]
    assert [r.label for r in rows] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    for row in rows:
        assert row.duration.to_dict() == {"value": 1, "unit": "working_day", "text": "1"}
        assert row.fee.to_dict() == {"text": "Miễn phí", "amount": 0}
        assert "duration_without_unit" in row.anomalies


def test_modes_fee_note_and_description_are_separated() -> None:
    text = ("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến3 Ngày làm việc7,000 Việt Nam Đồng(- Đăng ký "
            "tạm trú: thu 7.000 đồng/lần.)- Nộp hồ sơ trực tuyến qua Cổng dịch vụ công."
            "Trực tiếp3 Ngày làm việc10,000 Việt Nam Đồng(thu 10.000 đồng/người/lần;)"
            "- Nộp hồ sơ trực tiếp tại Công an cấp xã.")
    online, in_person = parse.parse_modes(text)
    assert online.duration.to_dict() == {"value": 3, "unit": "working_day", "text": "3 Ngày làm việc"}
    assert online.fee.amount == 7000
    assert online.fee.text == "7,000 Việt Nam Đồng (- Đăng ký tạm trú: thu 7.000 đồng/lần.)"
    assert online.description == "- Nộp hồ sơ trực tuyến qua Cổng dịch vụ công."
    assert in_person.fee.amount == 10000
    assert in_person.description.startswith("- Nộp hồ sơ trực tiếp")


def test_unit_less_duration_glued_to_amount() -> None:
    # "Trực tuyến120,000 VNĐ": a 1-day duration and a 20,000 đồng fee, not 120,000.
    (row,) = parse.parse_modes("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến120,000 VNĐ(Theo Thông tư)")
    assert row.duration.value == 1 and row.duration.text == "1"
    assert row.fee.amount == 20000
    assert row.fee.text == "20,000 VNĐ (Theo Thông tư)"


def test_mode_label_inside_description_is_not_a_row() -> None:
    text = ("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1 Ngày làm việc5,000 Việt Nam Đồng"
            "+ Trực tuyến: nộp hồ sơ qua Cổng Dịch vụ công.")
    (row,) = parse.parse_modes(text)
    assert row.description == "+ Trực tuyến: nộp hồ sơ qua Cổng Dịch vụ công."


@pytest.mark.parametrize(
    ("text", "value", "unit", "anomalies"),
    [
        ("7 Ngày làm việc", 7, "working_day", ()),
        ("15 Ngày", 15, "day", ()),
        ("3 Giờ", 3, "hour", ()),
        ("2 Tháng", 2, "month", ()),
        ("5", 5, "working_day", ("duration_without_unit",)),
        ("0,5 Ngày làm việc", 0.5, "working_day", ()),
        ("Không có thông tin", None, None, ("duration_missing",)),
        ("Không quy định", None, None, ("duration_missing",)),
        ("Hệ thống phản hồi tự động", None, None, ("duration_unparsed",)),
    ],
)
def test_duration(text: str, value: float | None, unit: str | None, anomalies: tuple[str, ...]) -> None:
    d = parse.parse_duration(text)
    assert (d.value, d.unit, d.text, d.anomalies) == (value, unit, text, anomalies)


@pytest.mark.parametrize(
    ("headline", "note", "amount", "anomalies"),
    [
        ("Miễn phí", "", 0, ()),
        ("Miễn phí", "Mức lệ phí cụ thể do Hội đồng nhân dân tỉnh quyết định.", 0, ("fee_set_locally",)),
        ("10,000 Việt Nam Đồng", "", 10000, ()),
        ("4,500,000 Việt Nam Đồng", "", 4500000, ()),
        ("8,000 VNĐ", "", 8000, ()),
        ("20 VNĐ", "20.000 vnđ /tờ khai", 20000, ("fee_amount_suspect",)),
        ("40 Việt Nam Đồng", "4.000 đ/giấy thông hành", 4000, ("fee_amount_suspect",)),
        ("50 VNĐ", "Phí hải quan 50USD/chuyến bay", None, ("fee_amount_suspect",)),
        ("10 USD", "/bản", None, ("fee_foreign_currency",)),
        ("Không có thông tin", "", None, ("fee_missing",)),
        ("Theo thỏa thuận", "", None, ("fee_unparsed",)),
    ],
)
def test_fee(headline: str, note: str, amount: int | None, anomalies: tuple[str, ...]) -> None:
    fee = parse.parse_fee(headline, note)
    assert (fee.amount, fee.anomalies) == (amount, anomalies)
    assert fee.text == (f"{headline} ({note})" if note else headline)


def test_documents_groups_quantities_and_forms() -> None:
    text = ("* Giấy tờ phải nộp:Tên giấy tờMẫu đơn, tờ khaiSố lượng- Giấy chứng sinh.1 bản chính"
            "Tờ khai theo quy địnhMauon (2).docx1 bản chính,1 bản sao"
            "* Giấy tờ phải xuất trình:Tên giấy tờMẫu đơn, tờ khaiSố lượng"
            "Hộ chiếu hoặc thẻ căn cước01 bản chụp"
            "Trường hợp đã có dữ liệu thì không phải nộp.0 bản chính")
    docs = parse.parse_documents(text)
    assert [d.to_dict() for d in docs] == [
        {"name": "Giấy chứng sinh.", "form": None, "quantity": "1 bản chính", "group": "Giấy tờ phải nộp"},
        {"name": "Tờ khai theo quy định", "form": "Mauon (2).docx", "quantity": "1 bản chính, 1 bản sao",
         "group": "Giấy tờ phải nộp"},
        {"name": "Hộ chiếu hoặc thẻ căn cước", "form": None, "quantity": "01 bản chụp",
         "group": "Giấy tờ phải xuất trình"},
        {"name": "Trường hợp đã có dữ liệu thì không phải nộp.", "form": None, "quantity": "0 bản chính",
         "group": "Giấy tờ phải xuất trình"},
    ]


def test_quantity_inside_a_name_is_not_a_cell() -> None:
    text = "--Tên giấy tờMẫu đơn, tờ khaiSố lượngTờ khai (nộp 02 bản chính tờ khai hải quan)1 bản chính"
    (doc,) = parse.parse_documents(text)
    assert doc.name == "Tờ khai (nộp 02 bản chính tờ khai hải quan)" and doc.quantity == "1 bản chính"


def test_number_before_quantity_stays_in_the_name() -> None:
    (doc,) = parse.parse_documents("Tên giấy tờMẫu đơn, tờ khaiSố lượngĐơn theo Mẫu số 031 bản chính")
    assert doc.name == "Đơn theo Mẫu số 03" and doc.quantity == "1 bản chính"


@pytest.mark.parametrize(
    ("text", "name", "form"),
    [
        ("Đơn đề nghị theo Nghị định số 23/2026/NĐ-CPMau13.docx",
         "Đơn đề nghị theo Nghị định số 23/2026/NĐ-CP", "Mau13.docx"),
        ("Tờ khai (Mẫu CT01 theo Thông tư số 53/2025/TT-BCA).1.MuCT01banhnhkmtheoThngts53.doc",
         "Tờ khai (Mẫu CT01 theo Thông tư số 53/2025/TT-BCA).", "1.MuCT01banhnhkmtheoThngts53.doc"),
        ("Phiếu khai báo (mẫu NA17)101-Mau A17 tam tru.doc",
         "Phiếu khai báo (mẫu NA17)", "101-Mau A17 tam tru.doc"),
        ("Giấy chứng sinh", "Giấy chứng sinh", None),
    ],
)
def test_split_form(text: str, name: str, form: str | None) -> None:
    assert parse.split_form(text) == (name, form)


def test_legal_basis_titles_and_numbers() -> None:
    text = ("Tên văn bản pháp lýMã văn bảnThông tư Hướng dẫn về phí và lệ phí85/2019/TT-BTCNghị định số "
            "123/2015/NĐ-CP ngày 15/11/2015 của Chính phủ quy định chi tiết Luật Hộ tịch123/2015/NĐ-CP"
            "Luật 60/2014/QH1360/2014/QH13Quyết định 104/1999/QĐ-TTgThông tư 01/2022/TT-BTP01/2022/TT-BTP")
    assert [(lb.title, lb.number) for lb in parse.parse_legal_basis(text)] == [
        ("Thông tư Hướng dẫn về phí và lệ phí", "85/2019/TT-BTC"),
        ("Nghị định số 123/2015/NĐ-CP ngày 15/11/2015 của Chính phủ quy định chi tiết Luật Hộ tịch",
         "123/2015/NĐ-CP"),
        ("Luật 60/2014/QH13", "60/2014/QH13"),
        ("Quyết định", "104/1999/QĐ-TTg"),
        ("Thông tư 01/2022/TT-BTP", "01/2022/TT-BTP"),
    ]


def test_result_without_portal_boilerplate() -> None:
    text = ("Giấy khai sinhMã: KQ.G15.000031Thông báo kết quảMã: KQ-G17.000005Từ khóaKhông có thông tin"
            "Mô tảKhông có thông tinChọn cơ quan thực hiệnTỉnh/ Thành phố")
    assert parse.parse_result(text) == "Giấy khai sinh; Thông báo kết quả"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Thủ tục đăng ký khai sinh", "Đăng ký khai sinh"),
        ("Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "Cấp Giấy xác nhận tình trạng hôn nhân"),
        ("ĐĂNG KÝ KẾT HÔN", "Đăng ký kết hôn"),
        ("TTHC đăng ký thuế;", "Đăng ký thuế"),  # the matcher's tidier (nlu.procedures.tidy_name)
        (". Đăng ký thuế đối với hộ kinh doanh", "Đăng ký thuế đối với hộ kinh doanh"),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert parse.short_name(name) == short


def test_short_name_is_concise() -> None:
    long_name = ("Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV (Công trình không theo "
                 "tuyến/Theo tuyến trong đô thị/Tín ngưỡng, tôn giáo/Tượng đài, tranh hoành tráng) "
                 "và nhà ở riêng lẻ")
    assert parse.short_name(long_name) == ("Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV "
                                           "và nhà ở riêng lẻ")
    assert len(parse.short_name("Chứng thực " + "giấy tờ, văn bản " * 20)) <= 91


def test_colliding_names_keep_what_tells_them_apart() -> None:
    out = parse.distinct_short_names([
        "Thủ tục hải quan xử lý nguyên liệu, vật tư dư thừa; phế liệu, phế phẩm; máy móc, thiết bị tạm xuất",
        "Hải quan xử lý nguyên liệu, vật tư dư thừa; phế thải; máy móc, thiết bị thuê, mượn",
        "Đăng ký thay đổi thông tin đăng ký thuế đối với người nộp thuế là tổ chức, hộ gia đình/cá nhân kinh "
        "doanh có thay đổi thông tin về địa chỉ trụ sở thực hiện tại cơ quan thuế nơi người nộp thuế chuyển "
        "đi; doanh nghiệp/hợp tác xã thực hiện nộp hồ sơ tại CQT nơi chuyển đi trước khi thay đổi",
        "Đăng ký thay đổi thông tin đăng ký thuế đối với người nộp thuế là tổ chức, hộ gia đình/cá nhân kinh "
        "doanh có thay đổi thông tin về địa chỉ trụ sở (thực hiện tại cơ quan thuế nơi người nộp thuế chuyển "
        "đến), trừ trường hợp đăng ký thuế theo cơ chế một cửa liên thông qua cơ quan đăng ký kinh doanh",
    ])
    # Short enough: whole, "Thủ tục" dropped, capitalised.
    assert out[0] == ("Hải quan xử lý nguyên liệu, vật tư dư thừa; phế liệu, phế phẩm; máy móc, "
                      "thiết bị tạm xuất")
    assert out[1] == "Hải quan xử lý nguyên liệu, vật tư dư thừa; phế thải; máy móc, thiết bị thuê, mượn"
    # Long: the opening words, then the phrase where they part (unpaired brackets dropped).
    assert out[2] == "Đăng ký thay đổi thông tin đăng ký thuế … nơi người nộp thuế chuyển đi…"
    assert out[3] == "Đăng ký thay đổi thông tin đăng ký thuế … nơi người nộp thuế chuyển đến…"
    assert len(set(out)) == 4 and all(len(n) <= 150 for n in out)
    # Names equal once tidied stay equal: the importer adds the field.
    assert parse.distinct_short_names(["Nộp dần tiền thuế nợ", "Thủ tục nộp dần tiền thuế nợ"]) == [
        "Nộp dần tiền thuế nợ", "Nộp dần tiền thuế nợ"]


@needs_raw
def test_sections_come_from_page_text_when_fields_are_cut() -> None:
    # The scraper cut this page's fields at "(Thành phần hồ sơ)" inside the steps.
    raw = json.loads((RAW_DIR / "1.001613.json").read_text(encoding="utf-8"))
    sections = parse.split_sections(raw)
    assert sections.steps.strip().startswith("Bước 1. Lập, nộp hồ sơ NLĐ lập hồ sơ theo quy định tại mục 9.3")
    assert "Bước 3. Nhận kết quả" in sections.steps
    docs = parse.parse_documents(sections.documents)
    assert any(d.name == "b) Đơn đề nghị (Mẫu số 14-HSB)" and d.quantity == "1 bản chính" for d in docs)


@needs_raw
def test_every_raw_page_parses() -> None:
    assert len(RAW_FILES) == 588
    for path in RAW_FILES:
        raw = json.loads(path.read_text(encoding="utf-8"))
        sections = parse.split_sections(raw)
        rows = parse.parse_modes(sections.modes)
        assert rows, path.name
        for row in rows:
            assert row.mode in {"online", "postal", "in_person"}, path.name
            assert row.duration.unit in UNITS, path.name
            assert row.fee.amount is None or (isinstance(row.fee.amount, int) and row.fee.amount >= 0)
        assert parse.parse_documents(sections.documents), path.name
        for doc in parse.parse_documents(sections.documents):
            assert doc.name and "Tên giấy tờMẫu đơn" not in doc.name, path.name
        for lb in parse.parse_legal_basis(sections.legal):
            assert lb.title and "/" in lb.number, path.name
        assert "Chọn cơ quan thực hiện" not in parse.parse_result(sections.result), path.name
