"""Property-based fuzzing of every parser the outside world reaches (the suite and benchmarks/fuzz.py).

Each `Target` is one parser: a Hypothesis strategy for what may arrive (any JSON shape, any Unicode,
lone surrogates and invalid UTF-8 included) and a `send` that delivers one example to the real app through
its WSGI interface (correctly signed, for the webhooks) and returns an `Outcome`: the HTTP status and how
many valid events of the example were not stored. The property: never a 5xx, never a lost valid event.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select
from staff.conftest import PASSWORD, login

from bot.config import Settings
from bot.db import transaction
from bot.models import Conversation, InboundEvent
from bot.staff.auth import create_user
from bot.storable import storable

API_TOKEN = "fuzz-api-token-0123456789abcdef"
ZALO_APP_ID = "4312345678901234567"
ZALO_OA_SECRET = "FuzzOaSecretKey_ABC123xyz"
FB_APP_SECRET = "fuzz_app_secret_0123456789abcdef"
NOWHERE = "http://127.0.0.1:9"  # parsing never calls a platform; a send would fail fast here

_ids = itertools.count()

# ---------------------------------------------------------------- what may arrive

SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
ANY_CHAR = st.one_of(st.characters(), SURROGATE, st.sampled_from("²³¹①٣३０１２\x00\ufeff\u200b"))
ANY_TEXT = st.lists(ANY_CHAR, max_size=30).map("".join)
NUMBERISH = st.one_of(
    st.integers().map(str),
    st.sampled_from(["", " ", "²", "0", "-1", "1.5", "1e9", "０１２", "٣", "9" * 25, "9" * 5000, "NaN"]),
    st.text(alphabet="0123456789²０１", max_size=25),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
QUERY_VALUE = st.one_of(NUMBERISH, ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary())
# A parameter of a query-string target: left out (None), a plausible value, or anything.
QUERY_PARAM = st.one_of(st.none(), st.sampled_from(["1", "2", "received", "2026-11-01", "subscribe",
                                                    "0001-01-01", "9999-12-31", "9999-12-31T23:59:59-05:00"]),
                        QUERY_VALUE)
WEB_MESSAGE = st.one_of(JSON, st.fixed_dictionaries({"text": ANY_TEXT},
                                                    optional={"payload": JSON, "client_id": JSON}))


def _body(value: Any, ascii_only: bool) -> bytes:
    """JSON bytes; non-ASCII sent raw (invalid UTF-8 for lone surrogates) or escaped as Meta does."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _as_stored(text: str) -> str:
    """What a text sent as JSON is stored as: escaped surrogate pairs decode to one character."""
    return storable(json.loads(_body(text, True)))  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the app under test


def fuzz_settings(base: Settings) -> Settings:
    """`base` with both webhook channels and the API enabled (platform calls go nowhere)."""
    return Settings(**{
        **base.__dict__, "api_token": API_TOKEN, "zalo_app_id": ZALO_APP_ID, "zalo_app_secret": "s",
        "zalo_oa_secret_key": ZALO_OA_SECRET, "zalo_access_token": "a", "zalo_refresh_token": "r",
        "zalo_api_base": NOWHERE, "zalo_oauth_base": NOWHERE, "facebook_app_secret": FB_APP_SECRET,
        "facebook_verify_token": "fuzz-verify", "facebook_page_access_token": "p",
        "facebook_graph_base": NOWHERE,
        # The fuzzing is about parsers: abuse limits (tests/channels/test_limits.py) stay out of the way.
        **{name: "1000000/minute" for name in base.__dict__ if name.startswith("rate_limit_")
           and name != "rate_limit_storage_uri"}})


@dataclass
class Hostile:
    """The app plus what the targets need: a logged-in admin, a conversation to poll."""

    app: Flask
    client: FlaskClient = field(init=False)
    staff: FlaskClient = field(init=False)
    conversation_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()
        self.client.get("/")  # the web chat's signed visitor cookie, as the page gives it
        sessions = self.app.extensions["motcua"].sessions
        with transaction(sessions) as session:
            create_user(session, "fuzzadmin", PASSWORD, "admin")
            conv = Conversation(channel="web", user_id="wfuzz")
            session.add(conv)
            session.flush()
            self.conversation_id = conv.id
        self.staff = self.app.test_client()
        assert login(self.staff, "fuzzadmin").status_code == 302

    def stored(self, event_ids: list[str]) -> dict[str, InboundEvent]:
        with self.app.extensions["motcua"].sessions() as session:
            rows = session.scalars(select(InboundEvent).where(InboundEvent.event_id.in_(event_ids)))
            return {row.event_id: row for row in rows}


@dataclass(frozen=True)
class Outcome:
    status: int
    lost: int = 0  # valid events of the example that were not stored


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    send: Callable[[Hostile, Any], Outcome]


# ---------------------------------------------------------------- webhooks


def _zalo_headers(body: bytes, timestamp: str) -> dict[str, str]:
    digest = hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode() + ZALO_OA_SECRET.encode())
    return {"X-ZEvent-Signature": "mac=" + digest.hexdigest(), "Content-Type": "application/json"}


ZALO_EVENTS = ["user_send_text", "user_send_image", "user_send_file", "user_send_location", "user_send_link",
               "user_send_sticker", "anonymous_send_text", "follow", "unfollow", "user_seen_message",
               "user_received_message", "oa_send_text", "user_reacted_message"]
ZALO_EVENT = st.fixed_dictionaries(
    {"event_name": st.one_of(st.sampled_from(ZALO_EVENTS), ANY_TEXT)},
    optional={"sender": st.one_of(JSON, st.fixed_dictionaries({"id": JSON})),
              "recipient": JSON, "follower": st.one_of(JSON, st.fixed_dictionaries({"id": JSON})),
              "message": st.one_of(JSON, st.fixed_dictionaries({}, optional={
                  "text": JSON, "msg_id": JSON, "msg_ids": JSON, "conversation_id": JSON,
                  "attachments": st.one_of(JSON, st.lists(st.fixed_dictionaries({}, optional={
                      "type": JSON, "payload": st.one_of(JSON, st.fixed_dictionaries({}, optional={
                          "url": JSON, "size": st.one_of(JSON, NUMBERISH), "name": JSON,
                          "coordinates": JSON}))}), max_size=2))}))},
)


def _send_zalo(h: Hostile, example: tuple[dict[str, Any], bool, bool, str]) -> Outcome:
    """A Zalo event of any shape, correctly signed with a fresh timestamp; plus one clean text event."""
    event, ascii_only, ts_as_number, text = example
    now = int(time.time() * 1000)
    body = _body({**event, "timestamp": now if ts_as_number else str(now)}, ascii_only)
    status = h.client.post("/webhooks/zalo", data=body, headers=_zalo_headers(body, str(now))).status_code
    if status >= 500:
        return Outcome(status)
    msg_id = f"fz-{next(_ids)}"
    clean = _body({"event_name": "user_send_text", "timestamp": str(now), "sender": {"id": "fuzz-user"},
                   "message": {"msg_id": msg_id, "text": text}}, True)
    second = h.client.post("/webhooks/zalo", data=clean, headers=_zalo_headers(clean, str(now))).status_code
    row = h.stored([f"msg:{msg_id}"]).get(f"msg:{msg_id}")
    kept = row is not None and (row.inbound or {}).get("text") == _as_stored(text)
    return Outcome(second if second >= 500 else status, 0 if kept and second == 200 else 1)


def _fb_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(FB_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + digest, "Content-Type": "application/json"}


FB_ITEM = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={
        "sender": st.one_of(JSON, st.fixed_dictionaries({"id": JSON})), "recipient": JSON, "timestamp": JSON,
        "message": st.one_of(JSON, st.fixed_dictionaries({}, optional={
            "mid": JSON, "text": JSON, "is_echo": JSON, "app_id": JSON, "metadata": JSON,
            "quick_reply": st.one_of(JSON, st.fixed_dictionaries({"payload": JSON})),
            "attachments": st.one_of(JSON, st.lists(st.one_of(JSON, st.fixed_dictionaries({}, optional={
                "type": JSON, "payload": JSON})), max_size=2))})),
        "postback": JSON, "read": JSON, "delivery": JSON, "pass_thread_control": JSON}),
)
# Each entry: ("junk", anything) or ("entry", [(valid?, text or junk item), ...]).
FB_ENTRY = st.one_of(
    st.tuples(st.just("junk"), JSON),
    st.tuples(st.just("entry"), st.lists(st.one_of(st.tuples(st.just(True), ANY_TEXT),
                                                   st.tuples(st.just(False), FB_ITEM)), max_size=4)),
)


def _send_facebook(h: Hostile, example: tuple[list[Any], bool]) -> Outcome:
    """A signed Messenger batch mixing valid messages and malformed entries/events: all valid ones stored."""
    entries, standby = example
    wanted: dict[str, str] = {}
    body_entries: list[Any] = []
    for kind, content in entries:
        if kind == "junk":
            body_entries.append(content)
            continue
        items = []
        for valid, value in content:
            if not valid:
                items.append(value)
                continue
            mid = f"m_fz{next(_ids)}"
            wanted[("standby:mid:" if standby else "mid:") + mid] = value
            items.append({"sender": {"id": "6543210987654321"}, "recipient": {"id": "102030405060708"},
                          "timestamp": int(time.time() * 1000), "message": {"mid": mid, "text": value}})
        events_key = "standby" if standby else "messaging"
        body_entries.append({"id": "102030405060708", "time": 1, events_key: items})
    body = _body({"object": "page", "entry": body_entries}, True)
    status = h.client.post("/webhooks/facebook", data=body, headers=_fb_headers(body)).status_code
    rows = h.stored(list(wanted))
    kept = sum(1 for event_id, text in wanted.items()
               if event_id in rows and (rows[event_id].inbound or {}).get("text") == _as_stored(text))
    return Outcome(status, len(wanted) - kept)


def _send_web_message(h: Hostile, example: tuple[Any, bool]) -> Outcome:
    value, ascii_only = example
    body = _body(value, ascii_only)
    resp = h.client.post("/chat/api/messages", data=body, content_type="application/json")
    return Outcome(resp.status_code)


# ---------------------------------------------------------------- query strings


def _query(value: str | bytes) -> str:
    return quote_from_bytes(value.encode("utf-8") if isinstance(value, str) else value, safe="")


def _get(client_of: Callable[[Hostile], FlaskClient], path: str, params: list[str],
         headers: dict[str, str] | None = None) -> Callable[[Hostile, Any], Outcome]:
    def send(h: Hostile, values: tuple[Any, ...]) -> Outcome:
        where = path.format(conversation=h.conversation_id)
        qs = "&".join(f"{name}={_query(value)}" for name, value in zip(params, values, strict=True)
                      if value is not None)
        return Outcome(client_of(h).get(f"{where}?{qs}", headers=headers or {}).status_code)

    return send


def _query_target(name: str, path: str, params: list[str], client_of: Callable[[Hostile], FlaskClient],
                  headers: dict[str, str] | None = None) -> Target:
    return Target(name, st.tuples(*[QUERY_PARAM for _ in params]), _get(client_of, path, params, headers))


def _public(h: Hostile) -> FlaskClient:
    return h.client


def _staff(h: Hostile) -> FlaskClient:
    return h.staff


def _send_path_id(h: Hostile, value: str | bytes) -> Outcome:
    return Outcome(h.staff.get(f"/staff/conversations/{_query(value)}/messages.json").status_code)


BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
TARGETS = [
    Target("zalo webhook", st.tuples(ZALO_EVENT | JSON.map(lambda v: {"event_name": "user_send_text",
                                                                      "message": v}),
                                     st.booleans(), st.booleans(), ANY_TEXT), _send_zalo),
    Target("messenger webhook", st.tuples(st.lists(FB_ENTRY, max_size=4), st.booleans()), _send_facebook),
    Target("web chat message", st.tuples(WEB_MESSAGE, st.booleans()), _send_web_message),
    _query_target("web chat ?after", "/chat/api/messages", ["after"], _public),
    _query_target("api ?limit&since&status", "/api/v1/dossiers", ["limit", "since", "status"], _public,
                  BEARER),
    _query_target("staff dossiers ?page&from&to&q&status&procedure&overdue", "/staff/dossiers",
                  ["page", "from", "to", "q", "status", "procedure", "overdue"], _staff),
    _query_target("staff audit ?staff&type&id", "/staff/audit", ["staff", "type", "id"], _staff),
    _query_target("staff messages.json ?after", "/staff/conversations/{conversation}/messages.json",
                  ["after"], _staff),
    Target("staff conversation id in the path", QUERY_VALUE, _send_path_id),
    _query_target("messenger subscription ?hub.*", "/webhooks/facebook",
                  ["hub.mode", "hub.verify_token", "hub.challenge"], _public),
]


@dataclass
class Tally:
    cases: int = 0
    server_errors: int = 0
    lost: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def run(target: Target, hostile: Hostile, examples: int, *, strict: bool) -> Tally:
    """Send `examples` generated cases; strict (the suite) fails on the first 5xx or lost event."""
    tally = Tally()

    @given(target.strategy)
    @hsettings(max_examples=examples, deadline=None, database=None, derandomize=strict,
               suppress_health_check=list(HealthCheck))
    def case(example: Any) -> None:
        outcome = target.send(hostile, example)
        tally.cases += 1
        tally.statuses[outcome.status] = tally.statuses.get(outcome.status, 0) + 1
        tally.server_errors += outcome.status >= 500
        tally.lost += outcome.lost
        if strict:
            assert outcome.status < 500, f"{target.name}: {outcome.status} for {example!r}"
            assert outcome.lost == 0, f"{target.name}: {outcome.lost} valid event(s) lost for {example!r}"

    case()
    return tally
