"""Document intake: files citizens send, downloaded only from the platforms' CDNs and checked by content.

A channel gives us a URL (`Attachment`); the web chat uploads bytes directly. Either way the same checks
apply before anything is kept: size cap, type from the magic bytes (never the name or the header the
sender chose), images large enough to read, then storage under a generated name with its SHA-256.
Every refusal is a `Refusal` whose `reason` maps to a citizen text in data/templates/documents.yml.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pillow_heif
import requests
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.messages import Attachment
from bot.models import Conversation, StoredFile
from bot.numbers import to_int
from bot.templates import text

log = logging.getLogger(__name__)

REASONS = ("host_not_allowed", "too_large", "unsupported_type", "too_small", "download_failed", "empty")
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic", "application/pdf": ".pdf"}
ACCEPTED = tuple(EXTENSIONS)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
TOTAL_TIMEOUT = 60.0
CHUNK = 64 * 1024
# HEIF brands written by phones (iPhone: heic; some Android: heix, mif1/msf1 with a heic compatible brand).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif"}
_NOT_HEIF = {b"avif", b"avis", b"crx "}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC", "application/pdf": "PDF"}


class Refusal(Exception):
    """A file we will not keep; `message()` is the citizen text explaining what to send instead."""

    def __init__(self, reason: str, **params: object) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def message(self) -> str:
        return text(f"documents.refused_{self.reason}", **self.params)


def _host_allowed(host: str, scheme: str, allowed: Iterable[str]) -> bool:
    """`host` equals an entry or is a subdomain of one; plain http only for a listed local host."""
    host = host.lower().rstrip(".")
    if not host:
        return False
    entries = [e.lower().strip().rstrip(".") for e in allowed if e and e.strip()]
    if scheme == "http":
        return host in LOCAL_HOSTS and host in entries
    if scheme != "https":
        return False
    return any(host == e or host.endswith("." + e) for e in entries)


def check_url(url: str, settings: Settings) -> None:
    """Raise Refusal(host_not_allowed) unless `url` points at an allowed host over an allowed scheme."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise Refusal("host_not_allowed") from None
    if not _host_allowed(host, parts.scheme.lower(), settings.attachment_hosts):
        raise Refusal("host_not_allowed")


def _limit_mb(limit: int) -> int:
    return max(1, limit // (1024 * 1024))


def fetch(attachment: Attachment, settings: Settings, *, max_bytes: int | None = None) -> bytes:
    """Download an attachment: allowed hosts only (each redirect re-checked), streamed, capped, timed out."""
    limit = min(max_bytes or settings.max_upload_bytes, settings.max_upload_bytes)
    if attachment.size is not None and attachment.size > limit:
        raise Refusal("too_large", max_mb=_limit_mb(limit))
    from connectors.web import web_upload_path

    local = web_upload_path(attachment.url, settings)  # a web-chat upload is already on our disk
    if local is not None:
        if local.stat().st_size > limit:
            raise Refusal("too_large", max_mb=_limit_mb(limit))
        return local.read_bytes()
    url = attachment.url
    deadline = time.monotonic() + TOTAL_TIMEOUT
    with requests.Session() as http:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, settings)
            try:
                response = http.get(url, stream=True, allow_redirects=False,
                                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
            except requests.RequestException as exc:
                log.info("attachment download failed: %s", type(exc).__name__)
                raise Refusal("download_failed") from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    log.info("attachment download status %s", response.status_code)
                    raise Refusal("download_failed")
                return _read_capped(response, limit, deadline)
    log.info("attachment download: too many redirects")
    raise Refusal("download_failed")


def _read_capped(response: requests.Response, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if (to_int(declared) or 0) > limit:
        raise Refusal("too_large", max_mb=_limit_mb(limit))
    buf = bytearray()
    try:
        for chunk in response.iter_content(CHUNK):
            buf.extend(chunk)
            if len(buf) > limit:
                raise Refusal("too_large", max_mb=_limit_mb(limit))
            if time.monotonic() > deadline:
                log.info("attachment download exceeded %ss", TOTAL_TIMEOUT)
                raise Refusal("download_failed")
    except requests.RequestException as exc:
        log.info("attachment download interrupted: %s", type(exc).__name__)
        raise Refusal("download_failed") from None
    return bytes(buf)


def sniff(data: bytes) -> str | None:
    """Content type from the magic bytes: JPEG, PNG, HEIC/HEIF or PDF; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")[:5] == b"%PDF-":
        return "application/pdf"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        major = data[8:12]
        size = int.from_bytes(data[0:4], "big")
        compatible = {data[i:i + 4] for i in range(16, min(max(size, 16), len(data), 256), 4)}
        if major in _NOT_HEIF or (compatible & _NOT_HEIF and major in {b"mif1", b"msf1"}):
            return None
        if major in _HEIF_BRANDS or compatible & _HEIF_BRANDS:
            return "image/heic"
    return None


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """(width, height) from the header: PNG IHDR, JPEG start-of-frame, the HEIF primary image (read by
    libheif without decoding pixels); None when absent or unreadable."""
    if content_type == "image/png":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        return None
    if content_type == "image/jpeg":
        return _jpeg_size(data)
    if content_type == "image/heic":
        return _heif_size(data)
    return None


def _heif_size(data: bytes) -> tuple[int, int] | None:
    try:
        primary = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = primary.size
    except (ValueError, OSError, RuntimeError, SyntaxError):
        return None
    return (int(width), int(height)) if width > 0 and height > 0 else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker == 0xD9:
            return None
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


def check(data: bytes, settings: Settings, *, accept: Iterable[str] | None = None,
          max_bytes: int | None = None) -> str:
    """The sniffed content type of `data`, or Refusal (empty, too_large, unsupported_type, too_small)."""
    limit = min(max_bytes or settings.max_upload_bytes, settings.max_upload_bytes)
    accepted = tuple(accept) if accept else ACCEPTED
    if not data:
        raise Refusal("empty")
    if len(data) > limit:
        raise Refusal("too_large", max_mb=_limit_mb(limit))
    content_type = sniff(data)
    if content_type is None or content_type not in accepted:
        raise Refusal("unsupported_type", types=", ".join(_TYPE_NAMES.get(t, t) for t in accepted))
    if content_type in ("image/jpeg", "image/png", "image/heic"):
        size = image_size(data, content_type)
        if size is None:
            raise Refusal("unsupported_type", types=", ".join(_TYPE_NAMES.get(t, t) for t in accepted))
        if min(size) < settings.min_image_side:
            raise Refusal("too_small", min_side=settings.min_image_side)
    return content_type


def store(session: Session, settings: Settings, data: bytes, content_type: str,
          conversation: Conversation | None) -> StoredFile:
    """Write `data` under a generated name in `settings.files_dir` and record it with its SHA-256."""
    folder = Path(settings.files_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex + EXTENSIONS.get(content_type, ".bin")
    tmp = folder / f".{name}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)
    except OSError:  # e.g. disk full: no half-written file stays behind taking the space
        tmp.unlink(missing_ok=True)
        raise
    stored = StoredFile(
        conversation_id=conversation.id if conversation is not None else None,
        storage_name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        size=len(data),
    )
    session.add(stored)
    session.flush()
    log.info("stored file %s (%s, %d bytes) for conversation %s", stored.id, content_type, len(data),
             stored.conversation_id)
    return stored


def accept_upload(session: Session, settings: Settings, data: bytes, conversation: Conversation | None, *,
                  accept: Iterable[str] | None = None, max_bytes: int | None = None) -> StoredFile:
    """A direct upload (web chat): the same checks as a download, then stored."""
    content_type = check(data, settings, accept=accept, max_bytes=max_bytes)
    return store(session, settings, data, content_type, conversation)


def intake(session: Session, settings: Settings, attachment: Attachment, conversation: Conversation | None,
           *, accept: Iterable[str] | None = None, max_bytes: int | None = None) -> StoredFile:
    """Download, check and store one attachment; raises Refusal with the reason to tell the citizen."""
    data = fetch(attachment, settings, max_bytes=max_bytes)
    return accept_upload(session, settings, data, conversation, accept=accept, max_bytes=max_bytes)


def path_of(settings: Settings, stored: StoredFile) -> Path:
    """Where a stored file lives on disk."""
    return Path(settings.files_dir) / stored.storage_name
