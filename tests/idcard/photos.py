"""Synthetic ID card photos for the decoder's tests and benchmarks/idcard.py.

A card-like image (text lines and the QR code of generated data with Vietnamese names and addresses), then
what a phone does to it: rotation up to ±15°, perspective skew, blur, uneven light, downscaling to phone
resolutions, JPEG compression or HEIC, sometimes an EXIF orientation instead of upright pixels.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

import pillow_heif
import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from flows.validators import PROVINCE_CODES

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
            "Hồ", "Ngô", "Dương", "Lý", "Trịnh", "Đinh", "Lương", "Quách"]
MIDDLE = {"Nam": ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân"],
          "Nữ": ["Thị", "Ngọc", "Thu", "Thanh", "Mỹ", "Diệu", "Kim", "Hồng"]}
GIVEN = {"Nam": ["An", "Bình", "Cường", "Dũng", "Hùng", "Khánh", "Long", "Phúc", "Quang", "Tuấn", "Việt",
                 "Đạt", "Hưng", "Thắng", "Trọng"],
         "Nữ": ["Lan", "Hoa", "Hương", "Mai", "Nhung", "Oanh", "Phương", "Quyên", "Thảo", "Trang", "Yến",
                "Ánh", "Diệp", "Ngân", "Hằng"]}
STREETS = ["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
           "Phan Đình Phùng", "Điện Biên Phủ"]
COMMUNES = ["Hòa Bình", "Tân Lập", "Đông Hưng", "Thạch Bàn", "An Khánh", "Phú Lương", "Yên Sở", "Tam Hiệp"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PHONE_WIDTHS = (1080, 1280, 1600, 2048, 3024, 4032)


@dataclass(frozen=True)
class Person:
    id_number: str
    old_id: str
    name: str
    birth: date
    sex: str
    address: str
    issued: date

    def payload(self, *, sex: bool = True, address: bool = True) -> str:
        return "|".join([self.id_number, self.old_id, self.name, self.birth.strftime("%d%m%Y"),
                         self.sex if sex else "", self.address if address else "",
                         self.issued.strftime("%d%m%Y")])


def person(rng: random.Random, today: date) -> Person:
    sex = rng.choice(["Nam", "Nữ"])
    words = [rng.choice(SURNAMES), rng.choice(MIDDLE[sex])]
    words += [rng.choice(MIDDLE[sex])] if rng.random() < 0.3 else []
    name = " ".join([*words, rng.choice(GIVEN[sex])])
    birth = date(1945, 1, 1) + timedelta(days=rng.randrange((date(2008, 12, 31) - date(1945, 1, 1)).days))
    province = rng.choice(sorted(PROVINCE_CODES))
    g = (0 if birth.year < 2000 else 2) + (1 if sex == "Nữ" else 0)
    id_number = f"{province}{g}{birth.year % 100:02d}{rng.randrange(10**6):06d}"
    old_id = f"{rng.randrange(10**8, 10**9)}" if rng.random() < 0.5 else ""
    address = (f"Số {rng.randint(1, 300)}, đường {rng.choice(STREETS)}, xã {rng.choice(COMMUNES)}, "
               f"{PROVINCE_CODES[province]}")
    issued = date(2021, 1, 1) + timedelta(days=rng.randrange((today - date(2021, 1, 1)).days))
    return Person(id_number, old_id, name, birth, sex, address, max(issued, birth))


def card_image(p: Person, payload: str, rng: random.Random, width: int = 1000) -> Image.Image:
    """The card: tinted background, a header, text lines and the QR code at the top right."""
    height = int(width * 54 / 85.6)
    tint = tuple(rng.randint(200, 245) for _ in range(3))
    card = Image.new("RGB", (width, height), tint)
    draw = ImageDraw.Draw(card)
    big, small = ImageFont.truetype(FONT, width // 28), ImageFont.truetype(FONT, width // 40)
    header = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    draw.text((width // 20, height // 14), header, fill=(30, 30, 90), font=small)
    draw.text((width // 20, height // 6), "CĂN CƯỚC CÔNG DÂN", fill=(150, 20, 20), font=big)
    lines = [f"Số: {p.id_number}", f"Họ và tên: {p.name.upper()}", f"Ngày sinh: {p.birth:%d/%m/%Y}",
             f"Giới tính: {p.sex}", f"Nơi thường trú: {p.address[:40]}"]
    for n, line in enumerate(lines):
        draw.text((width // 4, height // 3 + n * height // 10), line, fill=(20, 20, 20), font=small)
    draw.rectangle((width // 20, height // 3, width // 5, height * 5 // 6), fill=(170, 170, 180))
    qr = segno.make(payload, error="m", micro=False)
    side = int(width * rng.uniform(0.17, 0.22))
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=8, border=2)
    code = Image.open(buf).convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    card.paste(code, (width - side - width // 25, height // 25))
    return card


def _perspective(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Coefficients for Image.transform(PERSPECTIVE) mapping output points `dst` to input points `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    # Gaussian elimination (8x8): no numpy needed.
    m = [[*r, b] for r, b in zip(rows, rhs, strict=True)]
    for i in range(8):
        pivot = max(range(i, 8), key=lambda r: abs(m[r][i]))
        m[i], m[pivot] = m[pivot], m[i]
        for r in range(8):
            if r != i:
                f = m[r][i] / m[i][i]
                m[r] = [a - f * b for a, b in zip(m[r], m[i], strict=True)]
    return [m[i][8] / m[i][i] for i in range(8)]


def photo(p: Person, rng: random.Random, *, fmt: str = "jpeg", payload: str | None = None,
          hard: bool = True) -> bytes:
    """A phone photo of the card: placed on a table, rotated, skewed, blurred, lit unevenly, compressed."""
    import math

    card = card_image(p, payload or p.payload(), rng)
    out_w = rng.choice(PHONE_WIDTHS)
    out_h = out_w * 3 // 4
    scene_w, scene_h = 1600, 1200
    scene = Image.effect_noise((scene_w, scene_h), 25).convert("RGB")
    base = tuple(rng.randint(60, 160) for _ in range(3))
    scene = Image.blend(scene, Image.new("RGB", scene.size, base), 0.7)
    fill = rng.uniform(0.55, 0.85) if hard else 0.75  # card width / photo width
    cw = scene_w * fill
    ch = cw * card.height / card.width
    angle = math.radians(rng.uniform(-15, 15) if hard else 0)
    cx, cy = scene_w / 2 + rng.uniform(-0.05, 0.05) * scene_w, scene_h / 2
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * cw / 2, sy * ch / 2
        skew = rng.uniform(-0.06, 0.06) * cw if hard else 0
        x, y = x + skew, y + rng.uniform(-0.04, 0.04) * ch * (1 if hard else 0)
        corners.append((cx + x * math.cos(angle) - y * math.sin(angle),
                        cy + x * math.sin(angle) + y * math.cos(angle)))
    src = [(0, 0), (card.width, 0), (card.width, card.height), (0, card.height)]
    coeffs = _perspective(src, corners)
    warped = card.transform(scene.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    mask = Image.new("L", card.size, 255).transform(scene.size, Image.Transform.PERSPECTIVE, coeffs,
                                                    Image.Resampling.BILINEAR)
    scene.paste(warped, (0, 0), mask)
    if hard:
        scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
        light = Image.linear_gradient("L").resize(scene.size).rotate(rng.uniform(0, 360))
        low = rng.uniform(0.55, 0.9)
        light = light.point(lambda v: int(255 * (low + (1 - low) * v / 255)))
        scene = Image.composite(scene, Image.new("RGB", scene.size, (0, 0, 0)), light)
        scene = Image.blend(scene, Image.new("RGB", scene.size, (0, 0, 0)), 1 - light.getextrema()[1] / 255)
    scene = scene.resize((out_w, out_h), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if fmt == "heic":
        pillow_heif.from_pillow(scene).save(buf, format="HEIF", quality=rng.randint(50, 85))
    elif rng.random() < 0.15 and hard:  # the phone kept the sensor's orientation and wrote it in EXIF
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise to display
        scene.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=rng.randint(40, 90), exif=exif)
    else:
        scene.save(buf, "JPEG", quality=rng.randint(40, 90) if hard else 85)
    return buf.getvalue()
