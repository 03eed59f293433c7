"""Find the QR code in a photo of a card: JPEG, PNG or HEIC (iPhone), as phones take them.

zxing-cpp finds rotated, skewed and small codes by itself; the preparation here is what it cannot do:
orientation from EXIF, grayscale, a bounded size (a 12-megapixel photo is slow and no easier to read),
and a second look at a stretched-contrast copy and at crops where the code is bigger relative to the
picture. When nothing is found, `hint` names the one most likely cause the citizen can fix.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pillow_heif
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.idcard import heif

pillow_heif.register_heif_opener()

MAX_SIDE = 1600  # longest side decoded; a QR of a card held at arm's length still has ~3 px per module
MIN_SIDE = 240  # smaller photos cannot hold a readable card QR code
MAX_PIXELS = 60_000_000  # refuse decompression bombs before decoding
DARK = 55  # mean grey level under which the photo is too dark
GLARE = 0.06  # share of blown-out pixels above which glare is the likely cause
Box = tuple[float, float, float, float]  # left, top, right, bottom as shares of the photo's size
# The looks at a photo, in order: the whole photo reads almost every card (299 of the benchmark's 300), then a
# contrast-stretched copy for dim or washed-out light, then crops where the code is bigger relative to the
# picture: the right part (where the CCCD has it) and the middle. (crop box or None, stretch contrast)
ATTEMPTS: tuple[tuple[Box | None, bool], ...] = (
    (None, False),
    (None, True),
    ((0.4, 0.0, 1.0, 1.0), False),
    ((1 / 6, 1 / 6, 5 / 6, 5 / 6), False),
)
HINTS = ("not_image", "too_small", "dark", "glare", "blurry", "not_card", "qr_side")


@dataclass(frozen=True)
class Decoded:
    """The QR texts found (in the order found), or the hint for the citizen when none was."""

    texts: tuple[str, ...] = ()
    hint: str | None = None


def open_image(data: bytes) -> Image.Image | None:
    """The photo upright, in grayscale, no larger than MAX_SIDE; None when it is not an image.

    Every step works on the fewest pixels it can: JPEG is decoded at a reduced scale, HEIC as its luma
    plane only (heif.luma, already upright), and the EXIF rotation is applied after downscaling.
    """
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            return None
        luma = heif.luma(data, MAX_PIXELS) if img.format == "HEIF" else None
        if luma is not None:
            img = luma
        elif img.format == "JPEG":  # decode at a reduced scale directly: much faster than resizing after
            img.draft("L", (MAX_SIDE, MAX_SIDE))
        img = img if img.mode == "L" else img.convert("L")
        if max(img.size) > MAX_SIDE:
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        if luma is None:
            img = ImageOps.exif_transpose(img) or img
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return img


def _texts(img: Image.Image) -> tuple[str, ...]:
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    out = []
    for barcode in found:
        try:
            out.append(barcode.bytes.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(barcode.text)
    return tuple(t for t in out if t)


def _look(img: Image.Image, box: Box | None, stretch: bool) -> Image.Image:
    """One attempt's picture: a crop (doubled when small: modules keep enough pixels), maybe stretched."""
    if box:
        w, h = img.size
        img = img.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
        if max(img.size) < MAX_SIDE // 2:
            img = img.resize((img.width * 2, img.height * 2), Image.Resampling.BICUBIC)
    return ImageOps.autocontrast(img, cutoff=1) if stretch else img


def _hint(img: Image.Image) -> str:
    """The one thing most likely to fix an unreadable photo."""
    if zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode, return_errors=True):
        return "blurry"  # a code is there but its modules could not be read: closer and steadier
    hist = img.histogram()
    total = sum(hist) or 1
    mean = sum(i * n for i, n in enumerate(hist)) / total
    if mean < DARK:
        return "dark"
    if sum(hist[250:]) / total > GLARE:
        return "glare"
    return "qr_side"


def decode(data: bytes) -> Decoded:
    """Every QR text in the photo; a hint (HINTS) when there is none."""
    img = open_image(data)
    if img is None:
        return Decoded(hint="not_image")
    if min(img.size) < MIN_SIDE:
        return Decoded(hint="too_small")
    for box, stretch in ATTEMPTS:  # each picture is made only when the ones before found nothing
        texts = _texts(_look(img, box, stretch))
        if texts:
            return Decoded(texts=texts)
    return Decoded(hint=_hint(img))
