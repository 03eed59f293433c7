"""The decoder on generated phone photos of cards (JPEG, HEIC, EXIF-rotated) and on photos without a card."""

from __future__ import annotations

import io
import random
from datetime import date

import pillow_heif
from PIL import Image, ImageChops

from bot.idcard import decode, heif, parse
from bot.idcard.decode import open_image
from flows.validators import PROVINCE_CODES

from .photos import person, photo

TODAY = date(2026, 12, 4)


def test_jpeg_and_heic_photos_of_cards_are_read_exactly() -> None:
    rng = random.Random(7)
    for n in range(6):
        p = person(rng, TODAY)
        data = photo(p, rng, fmt="heic" if n % 2 else "jpeg")
        found = decode(data)
        assert found.texts and found.texts[0] == p.payload(), n
        card = parse(found.texts[0], TODAY, PROVINCE_CODES)
        assert (card.id_number, card.name, card.birth_date, card.sex) == (p.id_number, p.name, p.birth, p.sex)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("L", (400, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert open_image(buf.getvalue()).size == (300, 400)


def test_photos_without_a_card_get_a_hint() -> None:
    def jpeg(img: Image.Image) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "JPEG")
        return buf.getvalue()

    assert decode(b"not an image").hint == "not_image"
    assert decode(jpeg(Image.new("RGB", (100, 80)))).hint == "too_small"
    assert decode(jpeg(Image.new("RGB", (800, 600), (15, 15, 15)))).hint == "dark"
    assert decode(jpeg(Image.new("RGB", (800, 600), (255, 255, 255)))).hint == "glare"
    assert decode(jpeg(Image.new("RGB", (800, 600), (128, 128, 128)))).hint == "qr_side"
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 64))).save(buf, format="HEIF")
    assert decode(buf.getvalue()).hint == "too_small"


def _heic(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    pillow_heif.from_pillow(img).save(buf, format="HEIF", quality=90, **kwargs)
    return buf.getvalue()


def test_heic_luma_is_the_grayscale_photo() -> None:
    rng = random.Random(3)
    data = photo(person(rng, TODAY), rng, fmt="heic")
    fast = heif.luma(data, 10**8)
    slow = Image.open(io.BytesIO(data)).convert("L")
    assert fast is not None and fast.mode == "L" and fast.size == slow.size
    hist = ImageChops.difference(fast, slow).histogram()
    assert sum(i * n for i, n in enumerate(hist)) / sum(hist) < 3  # Y and Pillow's L differ by rounding only


def test_heic_rotation_is_applied_and_pillow_heif_remains_the_fallback(monkeypatch) -> None:
    img = Image.new("L", (400, 300), 90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _heic(img, exif=exif.tobytes())
    assert heif.luma(data, 10**8).size == (300, 400)
    assert open_image(data).size == (300, 400)
    assert heif.luma(data, 1000) is None  # too many pixels: left to open_image's refusal
    monkeypatch.setattr(heif, "_LIB", None)
    assert heif.luma(data, 10**8) is None
    assert open_image(data).size == (300, 400)
