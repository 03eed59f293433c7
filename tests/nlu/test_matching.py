"""Procedure matching: colloquial, diacritics-free and abbreviated messages find the right procedure, variants
are told apart, generic questions find the base procedure, every catalogue procedure can be linked, and bad
input is harmless. Runs on whichever catalogue source is present (imported catalogue or raw portal files)."""

from __future__ import annotations

import json
import random
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from nlu.matching import DEFAULT_DATA_DIR, RULES_FILE, Entry, ProcedureIndex, Rules, load_entries
from nlu.procedure_rules import age_bounds
from nlu.procedures import tidy_name
from nlu.text import fold

REPO = Path(__file__).resolve().parents[2]
RAW_DIR = REPO.parent / "shared" / "catalog" / "raw"
CASES = yaml.safe_load((Path(__file__).parent / "matching_cases.yml").read_text(encoding="utf-8"))
RULES = Rules.load(DEFAULT_DATA_DIR / RULES_FILE)


@pytest.fixture(scope="module")
def index() -> ProcedureIndex:
    """The catalogue as the bot sees it (imported procedures if present, else the raw portal files)."""
    return ProcedureIndex(load_entries(DEFAULT_DATA_DIR, RAW_DIR), RULES)


@pytest.fixture(scope="module")
def raw_index(tmp_path_factory: pytest.TempPathFactory) -> ProcedureIndex:
    """Only the raw portal names: the state before the catalogue import."""
    empty = tmp_path_factory.mktemp("data")
    return ProcedureIndex(load_entries(empty, RAW_DIR), RULES)


@pytest.fixture(params=["catalogue", "raw"])
def any_index(
        request: pytest.FixtureRequest, index: ProcedureIndex, raw_index: ProcedureIndex) -> ProcedureIndex:
    return index if request.param == "catalogue" else raw_index


# --- loading ----------------------------------------------------------------------------------------


def test_all_588_procedures_load_from_either_source(index: ProcedureIndex, raw_index: ProcedureIndex) -> None:
    assert len(index) == len(raw_index) == 588
    assert {e.code for e in index.entries} == {e.code for e in raw_index.entries}
    birth = raw_index.entry("1.001193")
    assert birth is not None
    assert birth.name == "Đăng ký khai sinh"  # "Thủ tục " stripped
    assert birth.field == "Hộ tịch"
    assert "Cấp xã" in birth.levels


def test_tidy_name() -> None:
    assert tidy_name("Thủ tục  đăng ký\nkhai sinh ") == "Đăng ký khai sinh"
    assert tidy_name("Hỗ trợ phát triển sản xuất cộng đồng.") == "Hỗ trợ phát triển sản xuất cộng đồng"
    assert tidy_name(". Đăng ký thuế đối với hộ kinh doanh;") == "Đăng ký thuế đối với hộ kinh doanh"
    assert tidy_name("TTHC cấp bản sao trích lục hộ tịch") == "Cấp bản sao trích lục hộ tịch"
    assert tidy_name("THỦ TỤC ĐĂNG KÝ KẾT HÔN") == "ĐĂNG KÝ KẾT HÔN"
    decomposed = unicodedata.normalize("NFD", "Thủ tục bán hàng miễn thuế")
    assert tidy_name(decomposed) == "Bán hàng miễn thuế"  # NFC, so lengths and cuts count letters


def test_aliases_overlay_from_curated_files_and_alias_table(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    names = {
        "1.004222": "Đăng ký thường trú",
        "1.013978": "Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất "
                    "lần đầu đối với hộ gia đình, cá nhân",
        "1.004873": "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân",
        "1.001193": "Thủ tục đăng ký khai sinh",
    }
    for code, name in names.items():
        raw_entry = {"ma_thu_tuc": code, "ten_thu_tuc": name, "linh_vuc": "X", "cap_thuc_hien": "Cấp xã"}
        (raw / f"{code}.json").write_text(json.dumps(raw_entry, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / "data"
    (data / "catalog" / "curated").mkdir(parents=True)
    (data / "catalog" / "curated" / "1.004222.yml").write_text(
        "code: '1.004222'\nshort_name: Đăng ký thường trú\naliases: [làm hộ khẩu, nhập hộ khẩu]\n",
        encoding="utf-8")
    (data / "catalog" / "curated" / "broken.yml").write_text(": : [", encoding="utf-8")
    (data / "catalog" / "aliases.yml").write_text(
        "'1.013978': [làm sổ đỏ, cấp sổ đỏ lần đầu]\n"
        "'1.004873': [xin giấy độc thân, giấy xác nhận độc thân]\n",
        encoding="utf-8")
    entries = load_entries(data, raw)
    by_code = {e.code: e for e in entries}
    assert by_code["1.004222"].aliases == ("làm hộ khẩu", "nhập hộ khẩu")
    assert by_code["1.013978"].aliases == ("làm sổ đỏ", "cấp sổ đỏ lần đầu")
    idx = ProcedureIndex(entries, RULES)
    for query, code in [
        ("em muốn làm sổ đỏ thì cần giấy tờ gì ạ", "1.013978"),
        ("lam so do mat bao lau", "1.013978"),
        ("cho mình hỏi làm hộ khẩu cho con", "1.004222"),
        ("xin giay doc than o dau", "1.004873"),
        ("đk ks", "1.001193"),
    ]:
        linked = idx.link(query)
        assert linked is not None and linked.code == code, query


def test_missing_catalogue_files_are_tolerated(tmp_path: Path) -> None:
    assert load_entries(tmp_path / "nothing", tmp_path / "no-raw") == []
    idx = ProcedureIndex([], RULES)
    assert idx.search("đăng ký khai sinh") == []
    assert idx.link("đăng ký khai sinh") is None


# --- the test messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "code"), CASES["link"])
def test_messages_link_to_the_right_procedure(any_index: ProcedureIndex, query: str, code: str) -> None:
    linked = any_index.link(query)
    assert linked is not None, (query, [(m.code, m.score) for m in any_index.search(query)])
    assert linked.code == code, (query, [(m.code, m.score) for m in any_index.search(query)])


@pytest.mark.parametrize(("query", "code"), CASES["top1"])
def test_generic_messages_rank_the_base_procedure_first(
        any_index: ProcedureIndex, query: str, code: str) -> None:
    found = any_index.search(query, limit=3)
    assert found and found[0].code == code, (query, [(m.code, m.score) for m in found])
    linked = any_index.link(query)
    assert linked is None or linked.code == code


@pytest.mark.parametrize(("query", "codes"), CASES["ambiguous"])
def test_ambiguous_messages_give_no_link_but_a_useful_top3(
        raw_index: ProcedureIndex, query: str, codes: list[str]) -> None:
    """On the official names alone (curated aliases may deliberately settle such a case)."""
    assert raw_index.link(query) is None, query
    top3 = [m.code for m in raw_index.search(query, limit=3)]
    assert set(codes) <= set(top3), (query, top3)


@pytest.mark.parametrize(("query", "codes"), CASES["top3"])
def test_messages_that_fit_several_procedures_rank_them_all(
        any_index: ProcedureIndex, query: str, codes: list[str]) -> None:
    top3 = [m.code for m in any_index.search(query, limit=3)]
    assert set(codes) <= set(top3), (query, top3)
    linked = any_index.link(query)
    assert linked is None or linked.code in codes


@pytest.mark.parametrize("query", CASES["nothing"])
def test_messages_without_a_procedure_match_nothing(index: ProcedureIndex, query: str) -> None:
    assert index.search(query) == []
    assert index.link(query) is None


def test_variants_are_told_apart(index: ProcedureIndex) -> None:
    pairs = {
        "đăng ký khai sinh": "1.001193",
        "đăng ký lại khai sinh": "1.004884",
        "khai sinh có yếu tố nước ngoài": "2.000528",
        "khai sinh lưu động": "1.003583",
        "khai sinh kết hợp nhận cha mẹ con": "1.000689",
        "kết hôn": "1.000894",
        "kết hôn có yếu tố nước ngoài": "2.000806",
        "chứng thực bản sao từ bản chính": "2.000815",
        "chứng thực chữ ký": "2.000884",
        "cấp giấy phép xây dựng mới": "1.013225",
        "điều chỉnh giấy phép xây dựng": "1.013226",
        "gia hạn giấy phép xây dựng": "1.013227",
        "cấp lại giấy phép xây dựng": "1.013228",
        "giấy phép xây dựng sửa chữa cải tạo": "1.013229",
        "đăng ký thường trú": "1.004222",
        "đăng ký tạm trú": "1.004194",
        "gia hạn tạm trú": "1.002755",
        "xóa đăng ký tạm trú": "1.010028",
    }
    for query, code in pairs.items():
        for text in (query, fold(query)):
            linked = index.link(text)
            assert linked is not None and linked.code == code, text


def test_diacritics_encodings_and_tone_placement_do_not_matter(index: ProcedureIndex) -> None:
    forms = [
        "đăng ký khai sinh",
        "dang ky khai sinh",
        unicodedata.normalize("NFD", "đăng ký khai sinh"),
        "Đăng Ký Khai Sinh",
        "đăng kí khai sinh",  # i/y spelling
        "đk ks",
    ]
    for text in forms:
        linked = index.link(text)
        assert linked is not None and linked.code == "1.001193", text
    assert index.link("hoà giải tranh chấp đất đai") == index.link("hòa giải tranh chấp đất đai")


def test_word_order_and_a_one_letter_typo(index: ProcedureIndex) -> None:
    assert index.search("khai sinh đăng ký lại")[0].code == "1.004884"
    assert index.link("dang ky khai xinh") is not None
    assert index.link("dang ky khai xinh").code == "1.001193"  # type: ignore[union-attr]
    assert index.link("đăng ký kêt hôn").code == "1.000894"  # type: ignore[union-attr]
    assert index.link("gia hạn tạm trus").code == "1.002755"  # type: ignore[union-attr]


def test_intent_words_do_not_drive_the_match(index: ProcedureIndex) -> None:
    plain = index.search("đăng ký kết hôn", limit=3)
    for text in ("thủ tục đăng ký kết hôn cần hồ sơ gì", "lệ phí đăng ký kết hôn bao nhiêu tiền",
                 "đăng ký kết hôn mất bao lâu", "đăng ký kết hôn nộp ở đâu ạ"):
        assert [m.code for m in index.search(text, limit=3)] == [m.code for m in plain], text


def test_span_points_at_the_procedure_in_the_original_text(index: ProcedureIndex) -> None:
    text = "Cho em hỏi đăng ký khai sinh cần gì ạ"
    m = index.link(text)
    assert m is not None and m.start is not None and m.end is not None
    assert text[m.start:m.end] == "đăng ký khai sinh"
    nfd = unicodedata.normalize("NFD", text)
    m = index.link(nfd)
    assert m is not None and m.start is not None
    assert unicodedata.normalize("NFC", nfd[m.start:m.end]) == "đăng ký khai sinh"
    text = "e hỏi đk ks với ạ"
    m = index.link(text)
    assert m is not None and text[m.start:m.end] == "đk ks"


def test_code_in_the_message_links_directly(index: ProcedureIndex) -> None:
    m = index.link("thủ tục 1.004884 cần gì")
    assert m is not None and m.code == "1.004884"
    assert "thủ tục 1.004884 cần gì"[m.start:m.end] == "1.004884"


def test_scores_are_ranked_and_within_0_and_1(index: ProcedureIndex) -> None:
    found = index.search("cho em hỏi khai sinh cho con", limit=10)
    assert 1 < len(found) <= 10
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert index.search("khai sinh", limit=0) == []
    assert found[0].as_dict() == {"code": found[0].code, "name": found[0].name, "score": found[0].score}


# --- every procedure can be linked -------------------------------------------------------------------


def _groups(entries: list[Entry], key: str) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        out[fold(getattr(e, key))].append(e)
    return out


def test_every_procedure_is_linkable_by_its_short_name(any_index: ProcedureIndex) -> None:
    """link(short name) and link(short name without diacritics) give the code, unless several procedures
    share practically the same name: then search() ranks all of them first and the full name links
    whenever it differs."""
    shorts = _groups(any_index.entries, "short_name")
    names = _groups(any_index.entries, "name")
    linked, shared, failures = 0, 0, []
    for e in any_index.entries:
        group = shorts[fold(e.short_name)]
        if len(group) == 1:
            for text in (e.short_name, fold(e.short_name)):
                m = any_index.link(text)
                if m is None or m.code != e.code:
                    failures.append((e.code, text, m and m.code))
            linked += 1
            continue
        shared += 1
        top = [m.code for m in any_index.search(e.short_name, limit=max(3, len(group)))]
        if e.code not in top:
            failures.append((e.code, "not ranked with its namesakes", top))
        if len(names[fold(e.name)]) == 1:
            m = any_index.link(e.name)
            if m is None or m.code != e.code:
                failures.append((e.code, e.name, m and m.code))
    assert failures == []
    assert linked + shared == 588
    assert linked >= 0.9 * len(any_index.entries)  # the rest share their (short) name with another code


def test_every_alias_finds_its_procedure(index: ProcedureIndex) -> None:
    """Whatever curation wrote: each alias links to its procedure, or is shared and ranks it in the top 3."""
    owners: dict[str, set[str]] = defaultdict(set)
    for e in index.entries:
        for a in e.aliases:
            owners[fold(a)].add(e.code)
    for e in index.entries:
        for alias in e.aliases:
            if len(owners[fold(alias)]) == 1:
                m = index.link(alias)
                if m is not None and m.code == e.code:
                    continue
            top3 = [m.code for m in index.search(alias, limit=3)]
            assert e.code in top3, (e.code, alias, top3)


# --- bad input ---------------------------------------------------------------------------------------


def _random_text(seed: int) -> str:
    return random.Random(seed).randbytes(3000).decode("utf-8", errors="replace")


@pytest.mark.parametrize("text", [
    "", "   ", "\n\t", "😀😀😀🙏", "x" * 5000, "ạ " * 2500, "\x00\x01\x02\x1b[31m\x7f\u200b\ufeff",
    "?!.,;:-()[]{}", "a" * 50, "ᄀᄁᄂ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", _random_text(1), _random_text(2), "1.2.3.4.5.6.7",
])
def test_bad_input_returns_nothing_without_error(index: ProcedureIndex, text: str) -> None:
    assert index.search(text) == []
    assert index.link(text) is None


def test_long_message_with_a_procedure_still_works(index: ProcedureIndex) -> None:
    text = "dạ " * 100 + "em muốn đăng ký kết hôn ạ " + "😀" * 2000
    m = index.link(text)
    assert m is not None and m.code == "1.000894"
    assert fold(text[m.start:m.end]) == "dang ky ket hon"


def test_non_string_input_is_refused_quietly(index: ProcedureIndex) -> None:
    assert index.search(None) == []  # type: ignore[arg-type]
    assert index.link(b"dang ky khai sinh") is None  # type: ignore[arg-type]


# --- chat spelling -----------------------------------------------------------------------------------


def test_commonly_confused_sounds_are_tried(index: ProcedureIndex) -> None:
    for text, code in [("đăng ký tạm chú", "1.004194"), ("dang ky khai xinh cho be", "1.001193"),
                       ("gia hạn tạm chú", "1.002755")]:
        linked = index.link(text)
        assert linked is not None and linked.code == code, text
    # a real chat word is not "corrected" into a catalogue word ("chào" is not "chấp")
    assert index.link("chào nhà, hôm khác hỏi tiếp") is None


def test_diacritics_tell_folded_homographs_apart(tmp_path: Path) -> None:
    """"sổ đỏ" and "số đó" fold alike; written with diacritics they are different words."""
    entries = [Entry("1.013978", "Đăng ký đất đai lần đầu", "Đăng ký đất đai lần đầu",
                     aliases=("làm sổ đỏ",)),
               Entry("1.004194", "Đăng ký tạm trú", "Đăng ký tạm trú")]
    idx = ProcedureIndex(entries, RULES)
    assert idx.link("làm sổ đỏ") is not None
    assert idx.link("làm sổ đỏ").code == "1.013978"  # type: ignore[union-attr]
    assert idx.link("lam so do").code == "1.013978"  # type: ignore[union-attr]
    assert idx.search("đúng số đó rồi") == []
    assert idx.link("hoà giải") is None  # tone placement alone never makes a word different
    assert idx.link("đăng ký tạm trú") == idx.link("đăng kí tạm trú")


def test_a_foreign_nationality_means_the_foreign_variant(index: ProcedureIndex) -> None:
    for text in ("kết hôn với người Nhật", "dang ky ket hon voi chong quoc tich Han"):
        linked = index.link(text)
        assert linked is not None and linked.code == "2.000806", text


def test_numbers_match_without_leading_zeros(raw_index: ProcedureIndex) -> None:
    top = raw_index.search("tài khoản định danh điện tử mức độ 2 cho công dân", limit=1)
    assert top and top[0].code == "3.000228"


# --- the command line --------------------------------------------------------------------------------


def test_catalog_search_command() -> None:
    from click.testing import CliRunner

    from bot.catalog.cli import catalog

    runner = CliRunner()
    result = runner.invoke(catalog, ["search", "cho em hoi dk ket hon can gi", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert 1 <= len(found) <= 3
    assert all(set(item) == {"code", "name", "score"} for item in found)
    assert found[0]["code"] == "1.000894"
    result = runner.invoke(catalog, ["search", "chứng thực chữ ký"])
    assert result.exit_code == 0
    assert "2.000884" in result.stdout and "link: 2.000884" in result.stdout
    result = runner.invoke(catalog, ["search", "😀", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert runner.invoke(catalog, ["search", "khai sinh", "--limit", "0"]).exit_code != 0


def test_an_age_in_the_message_picks_the_age_variant(any_index: ProcedureIndex) -> None:
    assert age_bounds("Cấp thẻ căn cước cho người dưới 14 tuổi") == (0, 13)
    assert age_bounds("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên") == (14, 200)
    assert age_bounds("Cấp đổi thẻ căn cước") is None
    for query, code in [
        ("làm thẻ căn cước cho bé 5 tuổi", "1.014062"),
        ("the can cuoc cho con 16 tuoi", "1.014061"),
        ("cháu 14 tuổi làm thẻ căn cước", "1.014061"),
    ]:
        linked = any_index.link(query)
        assert linked is not None and linked.code == code, query
    # An age that fits every age-bound candidate changes nothing.
    assert any_index.link("liên thông khai sinh thường trú thẻ bảo hiểm y tế cho trẻ dưới 6 tuổi") is not None
