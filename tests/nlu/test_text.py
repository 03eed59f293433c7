"""The one Vietnamese normal form: diacritics, encodings, tone placement, abbreviations, spans."""

import unicodedata

from nlu.text import clean, fold, has_diacritics, strip_diacritics, words


def test_fold_removes_diacritics_and_expands_abbreviations() -> None:
    assert fold("đk ks cho bé cần gì") == "dang ky khai sinh cho be can gi"
    assert fold("Đăng ký khai sinh") == "dang ky khai sinh"
    assert fold("hs bn tiền v ad") == "ho so bao nhieu tien vay admin"


def test_nfd_and_tone_placement_fold_alike() -> None:
    nfc = "đăng ký hòa giải"
    nfd = unicodedata.normalize("NFD", nfc)
    old_style = "đăng ký hoà giải"
    assert nfd != nfc
    assert fold(nfd) == fold(nfc) == fold(old_style) == "dang ky hoa giai"


def test_spans_point_into_the_original_text() -> None:
    text = "Cho em hỏi đk kết hôn"
    ws = words(text)
    dk = next(w for w in ws if w.text == "đk")
    assert text[dk.start:dk.end] == "đk"
    assert dk.folded == ("dang", "ky")
    assert [text[w.start:w.end] for w in ws] == [w.text for w in ws]


def test_codes_stay_one_word() -> None:
    assert [w.text for w in words("mã 1.001193 và hs 000.00.12.H62-251105-0004")][1] == "1.001193"
    assert "000.00.12.h62-251105-0004" in fold("hs 000.00.12.H62-251105-0004")


def test_bad_input_is_harmless() -> None:
    assert fold("") == ""
    assert fold("😀🙏") == ""
    assert fold("\x00\x01abc\u200b") == "abc"
    assert len(clean("a\x00b")) == 3
    assert isinstance(fold(bytes(range(256)).decode("latin-1")), str)


def test_strip_and_detect_diacritics() -> None:
    assert strip_diacritics("Đồng Nai") == "Dong Nai"
    assert has_diacritics("hồ sơ") and not has_diacritics("ho so")
