"""Test helpers for conversations: a chat driver over bot.turn.take_turn, a scripted NLU, test files."""

from __future__ import annotations

import http.server
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.messages import Attachment, Inbound, Reply
from bot.models import Conversation
from bot.services import Services
from bot.turn import take_turn
from flows.turn import Network
from nlu.client import Candidate, Entity, Parse

# A weekday morning at the centre (09:00 in Hanoi), so submissions count from the same day.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def png(width: int = 400, height: int = 400) -> bytes:
    """A valid grey PNG big enough to pass the "too small to read" check."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
FILES = {
    "/giay.png": (png(), "image/png"),
    "/ban-ve.pdf": (PDF, "application/pdf"),
    "/tiny.png": (png(20, 20), "image/png"),
    "/note.txt": (b"hello, not a document", "text/plain"),
}


def serve_files(lookup: Callable[[str], tuple[bytes, str]]) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A platform CDN stand-in on 127.0.0.1: GET <path> answers lookup(path) = (body, content type), 404 when
    the body is empty. Returns the running server and its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = lookup(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class ScriptedNLU:
    """Stands in for the NLU server in engine tests: known texts get a fixed parse, others out_of_scope."""

    def __init__(self) -> None:
        self.script: dict[str, Parse] = {}
        self.calls: list[str] = []

    def add(
        self,
        message: str,
        intent: str,
        confidence: float = 0.95,
        *,
        candidates: tuple[tuple[str, str], ...] = (),
        **entities: str,
    ) -> None:
        self.script[message] = Parse(
            text=message,
            intent=intent,
            confidence=confidence,
            entities=tuple(Entity(k, v) for k, v in entities.items()),
            candidates=tuple(Candidate(code, name, 0.9) for code, name in candidates),
        )

    def parse(self, message: str) -> Parse:
        self.calls.append(message)
        return self.script.get(message, Parse(text=message, intent="out_of_scope", confidence=0.3))


@dataclass
class Chat:
    """One citizen talking to the bot; every call is one turn in its own transaction."""

    services: Services
    user: str = "citizen-1"
    channel: str = "web"
    now: datetime = START
    file_base: str = ""
    log: list[tuple[str, list[Reply]]] = field(default_factory=list)

    def send(self, inbound: Inbound, *, after: timedelta = timedelta(seconds=20)) -> list[Reply]:
        self.now += after
        reruns = Network.reruns
        replies = take_turn(self.services, inbound, now=self.now)
        # what the turn needed from the network was known before its transaction (flows.dialogue.read_ahead)
        assert Network.reruns == reruns, f"turn {inbound} had to run again to fetch outside its transaction"
        self.log.append((inbound.text or inbound.payload or "<file>", replies))
        return replies

    def say(self, message: str, **kw: Any) -> list[Reply]:
        return self.send(Inbound(self.channel, self.user, "text", text=message), **kw)

    def press(self, payload: str, title: str = "", **kw: Any) -> list[Reply]:
        return self.send(Inbound(self.channel, self.user, "payload", text=title, payload=payload), **kw)

    def upload(self, *paths: str, **kw: Any) -> list[Reply]:
        atts = tuple(Attachment("image" if p.endswith("png") else "file", self.file_base + p) for p in paths)
        return self.send(Inbound(self.channel, self.user, "attachment", attachments=atts), **kw)

    def conversation(self) -> Conversation:
        with self.services.sessions() as session:
            conv = session.query(Conversation).filter_by(channel=self.channel, user_id=self.user).one()
            session.expunge(conv)
            return conv

    def state(self) -> dict[str, Any]:
        return dict(self.conversation().state or {})


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload or "" for r in replies for b in r.buttons]


def button(replies: list[Reply], title_part: str) -> str:
    """The payload of the button whose title contains `title_part`."""
    for r in replies:
        for b in r.buttons:
            if title_part.lower() in b.title.lower() and b.payload:
                return b.payload
    raise AssertionError(f"no button {title_part!r} in {[b.title for r in replies for b in r.buttons]}")


# Valid answers by value kind, used to walk any flow to its end.
VALID = {
    "person_name": "Nguyễn Thị Lan",
    "id_number": "001090001234",
    "phone": "0912345678",
    "address": "Số 5 ngõ 10 đường Lê Lợi, xã Hòa Bình",
    "text": "Nội dung theo yêu cầu của hồ sơ",
    "ethnicity": "Kinh",
    "nationality": "Việt Nam",
}
DATES = {"past": "15/10/2020", "future": "15/10/2027", "any": "20/11/2026"}
# Dates the flows' cross-field checks accept: adults are of age, a child is born after its parents (the
# conversations run on 24/11/2026), a later date follows an earlier one.
SLOT_DATES = {
    "child_birth_date": "15/10/2026", "ward_birth_date": "15/10/2015", "current_expiry_date": "30/11/2026",
    "absence_from": "01/12/2026", "absence_to": "01/06/2027", "registration_date": "20/10/2005",
    "original_registration_date": "20/10/2005", "other_party_birth_date": "15/10/2020",
}


TEXTS = {"ethnicity": "Kinh", "nationality": "Việt Nam", "hometown": "xã Hòa Bình, tỉnh Phú Thọ",
         "birth_place": "Bệnh viện đa khoa tỉnh Phú Thọ"}


def text_for(step: Any) -> str:
    return next((v for k, v in TEXTS.items() if step.id.endswith(k)), VALID[step.kind])


def date_for(step: Any) -> str:
    if step.id in SLOT_DATES:
        return SLOT_DATES[step.id]
    if step.id.endswith("_birth_date"):
        return "15/10/1990" if step.id in ("mother_birth_date", "father_birth_date") else "15/10/2000"
    return DATES[str(step.rules.get("when", "any"))]


def active_step(chat: Chat) -> Any:
    """The step the bot is waiting on, from the saved state and the flow definitions."""
    from flows.loader import load_flows

    active = chat.state().get("active")
    if not active or not active.get("step"):
        return None
    return load_flows()[active["flow"]].step(active["step"])


def answer_step(chat: Chat, step: Any, *, choose: dict[str, str] | None = None) -> list[Reply]:
    """Give the waiting step a valid answer: consent yes, a typed value, one file, confirm."""
    choose = choose or {}
    if step.type == "consent":
        return chat.press("consent:yes", "Đồng ý")
    if step.type == "id_card":  # the ID card photo offer: type the details instead
        return chat.press('/card{"do":"type"}', "Tự nhập")
    if step.type == "collect":
        if step.kind == "choice":
            return chat.say(choose.get(step.id, step.options[0]))
        if step.kind == "date":
            return chat.say(date_for(step))
        return chat.say(text_for(step))
    if step.type == "documents":
        replies = chat.upload("/giay.png" if "jpeg" in step.accept or "png" in step.accept else "/ban-ve.pdf")
        if step.max_count > 1:
            replies = chat.say("xong")
        return replies
    if step.type == "notify":
        value = choose.get("notify", "none")
        return chat.press('/choose{"value":"' + value + '"}', "Thông báo")
    if step.type == "confirm":
        return chat.press('/choose{"value":"submit"}', "Nộp hồ sơ")
    raise AssertionError(f"cannot answer step {step.id} ({step.type})")


def complete(
    chat: Chat, *, until: str | None = None, choose: dict[str, str] | None = None, limit: int = 60
) -> list[Reply]:
    """Answer every question of the active flow (or up to step `until`); the last replies."""
    replies: list[Reply] = []
    for _ in range(limit):
        step = active_step(chat)
        if step is None or step.id == until:
            return replies
        replies = answer_step(chat, step, choose=choose)
    raise AssertionError("flow did not end")
