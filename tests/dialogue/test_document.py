"""Document intake: downloads only from allowed hosts, type by content, size and resolution limits,
storage under a generated name with the right SHA-256. Files are built byte by byte here."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pillow_heif
import pytest
from PIL import Image

from bot.config import Settings
from bot.db import transaction
from bot.document import (
    Refusal,
    accept_upload,
    check,
    check_url,
    fetch,
    image_size,
    intake,
    path_of,
    sniff,
)
from bot.messages import Attachment
from bot.models import StoredFile
from bot.services import Services
from bot.transcript import conversation_for

# ---------------------------------------------------------------------------------- sample files


def png(width: int, height: int) -> bytes:
    """A valid grayscale PNG: signature, IHDR, one zlib IDAT of blank scanlines, IEND (with CRCs)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def jpeg(width: int, height: int) -> bytes:
    """A valid baseline grayscale JPEG of a uniform mid-grey image.

    One quantisation table; Huffman tables with a single 1-bit code each (DC category 0, AC end of
    block), so every 8x8 block is the two bits "00" and the scan is zero bytes padded with ones.
    """

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    app0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = segment(0xDB, b"\x00" + b"\x01" * 64)
    sof0 = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    counts = b"\x01" + b"\x00" * 15
    dht = segment(0xC4, b"\x00" + counts + b"\x00" + b"\x10" + counts + b"\x00")
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return b"\xff\xd8" + app0 + dqt + sof0 + dht + sos + scan + b"\xff\xd9"


def pdf() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


HEIC = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64
HTML = b"<!doctype html><html><body>not a photo</body></html>"

# --------------------------------------------------------------------------------- local server


class _Handler(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/redirect-local/"):
            self.send_response(302)
            self.send_header("Location", "/files/" + path.rsplit("/", 1)[1])
            self.end_headers()
            return
        if path.startswith("/redirect-away/"):
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/files/photo.png")
            self.end_headers()
            return
        if path == "/stream-big":  # no Content-Length: chunked body larger than the cap
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"\x00" * 65536
            try:
                for _ in range(40):
                    self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        name = path.removeprefix("/files/")
        if not path.startswith("/files/") or name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")  # the header lies on purpose for photo.jpg
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.files = {
        "photo.png": png(640, 480),
        "photo.jpg": HTML,  # a .jpg that is really HTML
        "scan.jpg": jpeg(800, 600),
        "tiny.png": png(120, 90),
        "doc.pdf": pdf(),
        "big.pdf": pdf() + b"\x00" * (3 * 1024 * 1024),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    """Settings that allow the local test server (and the real CDNs), 1 MB cap, files in tmp_path."""
    return Settings.load(
        attachment_hosts=("127.0.0.1", "zadn.vn", "fbcdn.net"),
        max_upload_bytes=1024 * 1024,
        files_dir=tmp_path / "files",
        database_url="sqlite://",
        min_image_side=300,
    )


def reason(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(Refusal) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    assert info.value.message()  # every reason has a citizen text
    return info.value.reason


# ------------------------------------------------------------------------------------ sniffing


def heic(width: int, height: int) -> bytes:
    """A real HEIC photo, as an iPhone sends one."""
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (width, height), (120, 90, 60))).save(buf, format="HEIF")
    return buf.getvalue()


def test_sniff_by_magic_bytes() -> None:
    assert sniff(png(400, 400)) == "image/png"
    assert sniff(jpeg(400, 400)) == "image/jpeg"
    assert sniff(pdf()) == "application/pdf"
    assert sniff(HEIC) == "image/heic"
    assert sniff(struct.pack(">I", 20) + b"ftypmif1\x00\x00\x00\x00mif1heix") == "image/heic"
    assert sniff(struct.pack(">I", 20) + b"ftypavif\x00\x00\x00\x00mif1avif") is None  # AVIF is not HEIC
    assert sniff(struct.pack(">I", 20) + b"ftypisom\x00\x00\x00\x00isomavc1") is None  # MP4 video
    assert sniff(HTML) is None
    assert sniff(b"GIF89a\x01\x00\x01\x00") is None
    assert sniff(b"") is None


def test_image_dimensions_from_headers() -> None:
    assert image_size(png(640, 480), "image/png") == (640, 480)
    assert image_size(jpeg(800, 600), "image/jpeg") == (800, 600)
    assert image_size(jpeg(33, 17), "image/jpeg") == (33, 17)
    assert image_size(b"\xff\xd8\xff\xe0\x00", "image/jpeg") is None  # truncated


def test_generated_samples_are_well_formed() -> None:
    data = png(5, 3)
    assert zlib.decompress(data[41 : 41 + struct.unpack(">I", data[33:37])[0]]) == (b"\x00" + b"\x80" * 5) * 3
    doc = pdf()
    start = int(doc.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert doc[start : start + 4] == b"xref"
    assert jpeg(16, 16).endswith(b"\xff\xd9") and b"\xff\xc0" in jpeg(16, 16)


def test_check_refuses_wrong_type_size_and_small_images(local: Settings) -> None:
    assert check(png(640, 480), local) == "image/png"
    assert check(jpeg(300, 1200), local) == "image/jpeg"
    assert check(pdf(), local) == "application/pdf"
    assert check(heic(640, 480), local) == "image/heic"  # a real HEIC: its size is read by libheif
    assert reason(check, heic(200, 150), local) == "too_small"
    assert reason(check, HEIC, local) == "unsupported_type"  # the right brand, but no image inside
    assert reason(check, HTML, local) == "unsupported_type"
    assert reason(check, png(299, 1000), local) == "too_small"
    assert reason(check, jpeg(1000, 120), local) == "too_small"
    assert reason(check, b"", local) == "empty"
    assert reason(check, pdf() + b"\x00" * (1024 * 1024), local) == "too_large"
    assert reason(check, png(640, 480), local, accept=("application/pdf",)) == "unsupported_type"
    assert reason(check, pdf() + b"\x00" * 2048, local, max_bytes=2048) == "too_large"
    assert check(png(200, 200), replace(local, min_image_side=100)) == "image/png"


def test_refusal_texts_say_what_to_do(local: Settings) -> None:
    with pytest.raises(Refusal) as info:
        check(png(100, 100), local)
    assert "300" in info.value.message() and "anh/chị" in info.value.message().lower()
    with pytest.raises(Refusal) as info:
        check(HTML, local, accept=("image/jpeg", "application/pdf"))
    assert "JPEG, PDF" in info.value.message()


# ------------------------------------------------------------------------------------ hosts


@pytest.mark.parametrize(
    "url",
    [
        "https://s120-ava-talk.zadn.vn/a/b.jpg",
        "https://zadn.vn/x.jpg",
        "https://scontent.xx.fbcdn.net/v/t1.jpg?x=1",
        "https://ZADN.VN./x.jpg",
    ],
)
def test_allowed_hosts(url: str, local: Settings) -> None:
    check_url(url, local)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/x.jpg",
        "https://zadn.vn.evil.com/x.jpg",
        "https://evilzadn.vn/x.jpg",
        "https://zadn.vn@evil.com/x.jpg",
        "http://s1.zadn.vn/x.jpg",  # plain http to a CDN
        "ftp://zadn.vn/x.jpg",
        "file:///etc/passwd",
        "http://localhost/x.jpg",  # local, but only 127.0.0.1 is listed
        "https://[::1]/x.jpg",
        "not a url",
    ],
)
def test_forbidden_hosts(url: str, local: Settings) -> None:
    assert reason(check_url, url, local) == "host_not_allowed"


def test_local_http_needs_an_explicit_entry(server: str, local: Settings) -> None:
    default = replace(local, attachment_hosts=("zadn.vn", "fbcdn.net"))
    assert reason(fetch, Attachment("image", f"{server}/files/photo.png"), default) == "host_not_allowed"


# ---------------------------------------------------------------------------------- downloads


def test_fetch_from_allowed_local_server(server: str, local: Settings) -> None:
    assert fetch(Attachment("image", f"{server}/files/photo.png"), local) == png(640, 480)
    assert fetch(Attachment("image", f"{server}/redirect-local/doc.pdf"), local) == pdf()


def test_redirect_to_another_host_is_refused(server: str, local: Settings) -> None:
    assert reason(fetch, Attachment("image", f"{server}/redirect-away/x"), local) == "host_not_allowed"


def test_oversize_is_refused_by_header_and_by_stream(server: str, local: Settings) -> None:
    assert reason(fetch, Attachment("file", f"{server}/files/big.pdf"), local) == "too_large"
    assert reason(fetch, Attachment("file", f"{server}/stream-big"), local) == "too_large"
    assert (
        reason(fetch, Attachment("file", f"{server}/files/doc.pdf", size=5 * 1024 * 1024), local)
        == "too_large"
    )  # the platform's announced size is enough


def test_download_failures(server: str, local: Settings) -> None:
    assert reason(fetch, Attachment("image", f"{server}/files/missing.png"), local) == "download_failed"
    closed = "http://127.0.0.1:9/x.png"  # discard port: nothing listens
    assert reason(fetch, Attachment("image", closed), local) == "download_failed"


# ------------------------------------------------------------------------------------- storage


def test_intake_stores_under_generated_name(server: str, services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, attachment_hosts=("127.0.0.1",), files_dir=tmp_path / "store")
    with transaction(services.sessions) as session:
        conv = conversation_for(session, "zalo", "u-doc")
        stored = intake(
            session, settings, Attachment("image", f"{server}/files/photo.png", name="photo.jpg"), conv
        )
        expected = png(640, 480)
        assert stored.content_type == "image/png"
        assert stored.sha256 == hashlib.sha256(expected).hexdigest()
        assert stored.size == len(expected)
        assert stored.conversation_id == conv.id
        name = stored.storage_name
        assert name.endswith(".png") and "photo" not in name
        assert len(name) == 32 + 4 and all(c in "0123456789abcdef" for c in name[:32])
        assert path_of(settings, stored).read_bytes() == expected
        assert not list((tmp_path / "store").glob(".*.part"))
        # the same photo again gets a new name (no overwrite, no collision)
        again = intake(session, settings, Attachment("image", f"{server}/files/photo.png"), conv)
        assert again.storage_name != name and again.sha256 == stored.sha256
    with services.sessions() as session:
        assert session.get(StoredFile, stored.id) is not None


def test_intake_refuses_fake_extension_and_tiny(server: str, services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, attachment_hosts=("127.0.0.1",), files_dir=tmp_path / "store")
    with transaction(services.sessions) as session:
        conv = conversation_for(session, "facebook", "u-fake")
        fake = Attachment("image", f"{server}/files/photo.jpg", name="photo.jpg")
        assert reason(intake, session, settings, fake, conv) == "unsupported_type"
        assert (
            reason(intake, session, settings, Attachment("image", f"{server}/files/tiny.png"), conv)
            == "too_small"
        )
        scan = intake(session, settings, Attachment("image", f"{server}/files/scan.jpg"), conv)
        assert scan.content_type == "image/jpeg" and scan.storage_name.endswith(".jpg")
    assert len(list((tmp_path / "store").iterdir())) == 1


def test_direct_upload_same_checks(services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, files_dir=tmp_path / "up")
    with transaction(services.sessions) as session:
        conv = conversation_for(session, "web", "w-1")
        stored = accept_upload(session, settings, pdf(), conv)
        assert stored.content_type == "application/pdf" and stored.storage_name.endswith(".pdf")
        assert stored.sha256 == hashlib.sha256(pdf()).hexdigest()
        assert reason(accept_upload, session, settings, HTML, conv) == "unsupported_type"
        photo = accept_upload(session, settings, heic(640, 480), conv, accept=("image/heic",))
        assert photo.storage_name.endswith(".heic")
