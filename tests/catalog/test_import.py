"""The importer on the real portal data: values checked against the source text, idempotence,
anomaly detection, the store with its curated overlay, and `motcua catalog show`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.catalog.cli import catalog as catalog_cli
from bot.catalog.importer import import_catalog
from bot.catalog.store import Catalog

RAW_DIR = Path(__file__).resolve().parents[3] / "shared" / "catalog" / "raw"
pytestmark = pytest.mark.skipif(not any(RAW_DIR.glob("*.json")), reason="shared/catalog/raw not available")

SCHEMA_KEYS = ["code", "name", "short_name", "field", "levels", "applicants", "decision", "url", "steps",
               "modes", "documents", "conditions", "result", "legal_basis", "agency", "channels", "anomalies",
               "source"]
# Người có công pages whose title is a publishing decision ("Công bố Danh mục và Quy trình nội bộ ...").
WRONG_NAME_CODES = ["2.001428", "3.000226", "3.000243", "3.000244", "3.000246", "3.000283", "3.000331"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    import_catalog(RAW_DIR, data / "catalog")
    return data


def entry(data: Path, code: str) -> dict[str, Any]:
    return json.loads((data / "catalog" / "procedures" / f"{code}.json").read_text(encoding="utf-8"))


def modes_of(e: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    return [(m["mode"], m["duration"]["value"], m["duration"]["unit"], m["fee"]["amount"])
            for m in e["modes"]]


def test_every_procedure_written_with_the_schema(imported: Path) -> None:
    files = sorted((imported / "catalog" / "procedures").glob("*.json"))
    assert len(files) == 588
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n") and "\\u" not in text
        e = json.loads(text)
        assert list(e) == SCHEMA_KEYS
        assert e["source"] == {"file": path.name, "imported_from": "dichvucong.gov.vn"}
        assert e["code"] == path.stem and e["url"].startswith("https://dichvucong.gov.vn/")
        assert "  " not in e["name"] and "\n" not in e["name"]
        assert not e["short_name"].startswith("Thủ tục ")
        assert "Cấp xã" in e["levels"]
        for m in e["modes"]:
            assert set(m) == {"mode", "label", "duration", "fee", "description"}
        for d in e["documents"]:
            assert set(d) == {"name", "form", "quantity", "group"}


def test_birth_registration(imported: Path) -> None:
    e = entry(imported, "1.001193")
    assert e["name"] == "Thủ tục đăng ký khai sinh" and e["short_name"] == "Đăng ký khai sinh"
    assert (e["field"], e["levels"], e["decision"]) == ("Hộ tịch", ["Cấp xã"], "163/QĐ-BTP")
    assert e["applicants"] == "Công dân Việt Nam, Người Việt Nam định cư ở nước ngoài"
    assert modes_of(e) == [("online", 1, "working_day", 0), ("postal", 1, "working_day", 0),
                           ("in_person", 1, "working_day", 0)]
    assert all(m["fee"]["text"] == "Miễn phí" and m["duration"]["text"] == "1" for m in e["modes"])
    assert e["anomalies"] == ["duration_without_unit"]
    assert e["result"] == "Giấy khai sinh"
    assert e["conditions"] is None
    first = e["documents"][0]
    assert first["group"] == "Giấy tờ phải nộp" and first["quantity"] == "1 bản chính"
    assert first["name"].startswith("Trường hợp trẻ em bị bỏ rơi thì phải có biên bản")
    assert any(d["group"] == "Giấy tờ phải xuất trình"
               and d["name"].startswith("Hộ chiếu/Thẻ căn cước công dân") for d in e["documents"])
    assert {"title": "Luật 60/2014/QH13", "number": "60/2014/QH13"} in e["legal_basis"]
    assert e["steps"].startswith("- Nếu lựa chọn hình thức nộp hồ sơ trực tiếp")


def test_residence_procedures(imported: Path) -> None:
    assert modes_of(entry(imported, "1.004222")) == [("online", 7, "working_day", 10000),
                                                    ("in_person", 7, "working_day", 20000)]
    assert modes_of(entry(imported, "1.004194")) == [("online", 3, "working_day", 7000),
                                                    ("in_person", 3, "working_day", 10000)]
    assert modes_of(entry(imported, "1.002755")) == [("online", 3, "working_day", 5000),
                                                    ("in_person", 3, "working_day", 10000)]
    assert modes_of(entry(imported, "1.010038")) == [("in_person", 5, "working_day", 10000),
                                                    ("online", 5, "working_day", 5000)]
    # Two online rows: 1 working day, 2 when the case is complex; the portal gives no fee.
    tam_vang = entry(imported, "1.003677")
    assert modes_of(tam_vang) == [("online", 1, "working_day", None), ("online", 2, "working_day", None)]
    assert "fee_missing" in tam_vang["anomalies"]
    assert modes_of(entry(imported, "1.010041")) == [("online", 1, "working_day", 0),
                                                    ("online", 3, "working_day", 0)]
    thuong_tru = entry(imported, "1.004222")
    assert thuong_tru["result"].startswith("Cập nhật thông tin trong Cơ sở dữ liệu quốc gia về dân cư; Thông")
    group = thuong_tru["documents"][0]["group"]
    assert group == "Đăng ký thường trú vào chỗ ở hợp pháp thuộc quyền sở hữu của mình"


def test_civil_status_procedures(imported: Path) -> None:
    for code, days in [("1.000894", 1), ("1.000656", 1), ("1.004873", 3), ("1.004884", 5), ("1.004859", 1),
                       ("1.001022", 3)]:
        e = entry(imported, code)
        assert modes_of(e) == [(m, days, "working_day", 0) for m in ("online", "postal", "in_person")], code
        assert "duration_without_unit" in e["anomalies"], code
    assert entry(imported, "1.000894")["result"] == "Giấy chứng nhận kết hôn"
    assert entry(imported, "1.000656")["result"] == "Trích lục khai tử"
    assert "fee_set_locally" in entry(imported, "1.004873")["anomalies"]
    giam_ho = entry(imported, "1.004837")
    assert modes_of(giam_ho) == [(m, 3, "working_day", 0) for m in ("online", "postal", "in_person")]
    assert giam_ho["anomalies"] == []
    lien_thong = entry(imported, "2.000986")
    assert modes_of(lien_thong) == [("in_person", 20, "day", 0)]
    ban_sao = entry(imported, "2.000635")
    assert modes_of(ban_sao) == [(m, None, None, 8000) for m in ("online", "postal", "in_person")]
    assert ban_sao["levels"] == ["Cấp tỉnh", "Cấp xã"] and "duration_missing" in ban_sao["anomalies"]


def test_certification_business_and_building(imported: Path) -> None:
    copy = entry(imported, "2.000815")
    assert [m["fee"]["text"] for m in copy["modes"]] == ["2,000 Việt Nam Đồng (/trang)", "10 USD (/bản)"]
    assert modes_of(copy) == [("in_person", None, None, 2000), ("in_person", None, None, None)]
    assert copy["anomalies"] == ["duration_missing", "fee_foreign_currency"]
    signature = entry(imported, "2.000884")
    assert modes_of(signature) == [("in_person", None, None, 10000), ("in_person", None, None, None)]
    household = entry(imported, "1.001612")
    assert modes_of(household) == [("online", None, None, 150000), ("postal", None, None, 150000),
                                   ("in_person", None, None, 50000)]
    assert household["levels"] == ["Cấp bộ", "Cấp xã"]
    permit = entry(imported, "1.013225")
    assert modes_of(permit) == [("online", 20, "day", 0), ("postal", 20, "day", 0),
                                ("in_person", 15, "day", 0)]
    assert permit["short_name"] == ("Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV "
                                    "và nhà ở riêng lẻ")
    assert permit["documents"][0]["group"] == "(1.1) Đối với công trình không theo tuyến"
    assert permit["documents"][0]["quantity"] == "1 bản chính, 1 bản sao"


def test_forms_are_split_from_document_names(imported: Path) -> None:
    docs = entry(imported, "1.000253")["documents"]
    assert {"name": "Phiếu khai báo tạm trú cho người nước ngoài (mẫu NA17)",
            "form": "101-Mau A17 tam tru cho nguoi nuoc ngoai.doc"} in [
        {"name": d["name"], "form": d["form"]} for d in docs]


def test_wrong_names_are_flagged_not_imported_clean(imported: Path) -> None:
    for code in WRONG_NAME_CODES:
        e = entry(imported, code)
        assert e["field"] == "Người có công"
        assert e["name"].startswith("Công bố Danh mục và Quy trình nội bộ thủ tục hành chính")
        assert "name_mismatch" in e["anomalies"] and "duplicate_name" in e["anomalies"]
        assert e["short_name"] == "Giải quyết chế độ trợ cấp hàng tháng đối với thanh niên xung phong"
    report = (imported / "catalog" / "import-report.md").read_text(encoding="utf-8")
    for code in WRONG_NAME_CODES:
        assert f"- {code}: " in report and "name_mismatch" in report
    assert "- Procedures imported: 588" in report
    clean = [p for p in (imported / "catalog" / "procedures").glob("*.json")
             if "name_mismatch" in json.loads(p.read_text(encoding="utf-8"))["anomalies"]]
    assert sorted(p.stem for p in clean) == WRONG_NAME_CODES


SHARED_PAGES = [
    ["1.002544", "1.014208", "2.001709", "3.000224", "3.000272", "3.000274", "3.000284", "3.000285",
     "3.000286", "3.000332"],
    WRONG_NAME_CODES,
]


def test_display_names_are_unique_except_for_one_page_under_several_codes(imported: Path) -> None:
    entries = [json.loads(p.read_text(encoding="utf-8"))
               for p in sorted((imported / "catalog" / "procedures").glob("*.json"))]
    by_name: dict[str, list[str]] = {}
    for e in entries:
        by_name.setdefault(e["short_name"], []).append(e["code"])
    shared = sorted(codes for codes in by_name.values() if len(codes) > 1)
    assert shared == sorted(SHARED_PAGES)
    flagged = sorted(e["code"] for e in entries if "shared_page" in e["anomalies"])
    assert flagged == sorted(c for group in SHARED_PAGES for c in group)
    names = {e["code"]: e["short_name"] for e in entries}
    assert names["1.008588"] == "Nộp dần tiền thuế nợ (Cục Thuế)"  # field "Thuế" adds no word
    assert names["1.011636"] == "Nộp dần tiền thuế nợ (Hải quan)"
    assert names["1.008505"] == "Đăng ký thay đổi thông tin đăng ký thuế … nơi người nộp thuế chuyển đến…"
    assert names["1.012753"] == "Đăng ký đất đai, tài sản gắn liền với đất … đối với tổ chức đang sử dụng đất"
    assert names["1.004656"].endswith("có nguồn gốc khai thác từ tự nhiên")
    assert names["1.004680"].endswith("có nguồn gốc từ nuôi trồng")
    assert "Display names shared by several codes: 2 names, 17 procedures (17 of them `shared_page`)" in (
        imported / "catalog" / "import-report.md").read_text(encoding="utf-8")


def test_merged_catalogue_display_names_are_unique() -> None:
    """Curated short names (which win in the store) must not collide with imported ones either."""
    catalog = Catalog.load()
    if len(catalog) != 588:
        pytest.skip("data/catalog/procedures not imported")
    by_name: dict[str, list[str]] = {}
    for p in catalog.all():
        by_name.setdefault(p.short_name, []).append(p.code)
    shared = sorted(codes for codes in by_name.values() if len(codes) > 1)
    assert shared == sorted(SHARED_PAGES)


def test_reimport_is_byte_identical(imported: Path, tmp_path: Path) -> None:
    second = tmp_path / "data" / "catalog"
    result = import_catalog(RAW_DIR, second)
    assert result.written == 588
    first = imported / "catalog"
    for path in sorted((first / "procedures").glob("*.json")):
        assert (second / "procedures" / path.name).read_bytes() == path.read_bytes(), path.name
    assert (second / "import-report.md").read_bytes() == (first / "import-report.md").read_bytes()
    again = import_catalog(RAW_DIR, second)
    assert (again.written, again.unchanged, again.removed) == (0, 588, 0)


def test_reimport_removes_stale_entries_and_keeps_curated(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for code in ("1.001193", "1.004222"):
        shutil.copy(RAW_DIR / f"{code}.json", raw)
    catalog_dir = tmp_path / "data" / "catalog"
    (catalog_dir / "curated").mkdir(parents=True)
    curated = catalog_dir / "curated" / "1.001193.yml"
    curated.write_text("code: '1.001193'\nsummary: Khai sinh cho trẻ.\n", encoding="utf-8")
    import_catalog(raw, catalog_dir)
    (raw / "1.004222.json").unlink()
    result = import_catalog(raw, catalog_dir)
    assert result.removed == 1
    assert sorted(p.name for p in (catalog_dir / "procedures").iterdir()) == ["1.001193.json"]
    assert curated.read_text(encoding="utf-8") == "code: '1.001193'\nsummary: Khai sinh cho trẻ.\n"


def test_import_of_an_empty_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_catalog(tmp_path, tmp_path / "out")


def test_broken_page_is_reported_not_crashed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "1.000001.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(catalog_cli, ["import", str(raw), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1 and "1.000001.json is not a JSON procedure page" in result.output


# --------------------------------------------------------------------------------------------
# Store and CLI


@pytest.fixture
def curated_data(imported: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(imported / "catalog" / "procedures", data / "catalog" / "procedures")
    (data / "catalog" / "curated").mkdir()
    (data / "catalog" / "curated" / "1.004222.yml").write_text(
        "code: '1.004222'\nshort_name: Đăng ký thường trú (nhập hộ khẩu)\nsummary: Đăng ký nơi ở lâu dài.\n"
        "aliases: [nhập hộ khẩu]\n"
        "checklist:\n  - {name: Tờ khai CT01, how: fill_in_chat, required: true}\n"
        "modes:\n  - {mode: in_person, duration: {value: 7, unit: working_day}, fee: {text: 20.000 đồng, "
        "amount: 20000}, note: Miễn phí cho hộ nghèo}\n"
        "fields:\n  - {name: address, kind: text, label: Địa chỉ}\n",
        encoding="utf-8",
    )
    (data / "catalog" / "aliases.yml").write_text(
        "'1.004222': [đăng ký hộ khẩu]\n'1.001193': [làm giấy khai sinh]\n", encoding="utf-8")
    Catalog.clear_cache()
    return data


def test_store_merges_curated_overlay(curated_data: Path) -> None:
    cat = Catalog.load(curated_data)
    assert len(cat) == 588 and cat.get("0.000000") is None
    assert Catalog.load(curated_data) is cat  # cached per directory
    p = cat.get("1.004222")
    assert p is not None
    assert p.short_name == "Đăng ký thường trú (nhập hộ khẩu)" and p.summary == "Đăng ký nơi ở lâu dài."
    assert p.aliases == ("nhập hộ khẩu", "đăng ký hộ khẩu")
    assert p.checklist[0]["how"] == "fill_in_chat" and p.fields[0]["name"] == "address"
    in_person = [m for m in p.modes if m.mode == "in_person"]
    assert len(in_person) == 1 and in_person[0].note == "Miễn phí cho hộ nghèo"
    assert in_person[0].fee_amount == 20000
    assert [m.mode for m in p.modes] == ["online", "in_person"]
    plain = cat.get("1.001193")
    assert plain is not None and plain.curated is None and plain.summary is None
    assert plain.aliases == ("làm giấy khai sinh",) and plain.checklist == []
    assert [p.code for p in cat.all()] == sorted(p.code for p in cat.all())


def test_store_without_curated_files(imported: Path) -> None:
    Catalog.clear_cache()
    cat = Catalog.load(imported)
    assert len(cat) == 588 and all(p.curated is None and p.aliases == () for p in cat.all())


def test_cli_show_json_and_text(curated_data: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(catalog_cli, ["show", "1.004222", "--json", "--data-dir", str(curated_data)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["code"] == "1.004222" and data["curated"]["summary"] == "Đăng ký nơi ở lâu dài."
    assert data["aliases"] == ["nhập hộ khẩu", "đăng ký hộ khẩu"]
    assert data["url"].startswith("https://dichvucong.gov.vn/")
    result = runner.invoke(catalog_cli, ["show", "1.001193", "--data-dir", str(curated_data)])
    assert result.exit_code == 0 and "Đăng ký khai sinh" in result.output and "Miễn phí" in result.output


def test_cli_show_unknown_code(curated_data: Path) -> None:
    result = CliRunner().invoke(catalog_cli, ["show", "9.999999", "--data-dir", str(curated_data)])
    assert result.exit_code == 1 and "no procedure with code '9.999999'" in result.output


def test_cli_import(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(catalog_cli, ["import", str(RAW_DIR), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "588 procedures: 588 written" in result.output and "name_mismatch: 7" in result.output
    bad = runner.invoke(catalog_cli, ["import", str(tmp_path / "missing"), "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and "not a directory" in bad.output
