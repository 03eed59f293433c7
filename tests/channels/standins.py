"""Local stand-ins for the Zalo OpenAPI + OAuth server and the Graph API (channels.md §1.5-1.9, §2.4).

Real HTTP servers on 127.0.0.1 that answer in the documented formats, including the error answers the
dispatcher must handle: invalid/expired token (-216/-220, Graph 190), outside the window (-230/-232, Graph
10/2018278), rate limits (-32, Graph 613) and 5xx. Refresh tokens are single-use, as on the real server,
so two processes refreshing with the same token would make the second one fail.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None


@dataclass
class StandIn:
    """Base: a threaded HTTP server that records every call and can be told to fail the next ones."""

    calls: list[Call] = field(default_factory=list)
    # Forced answers for the next send calls: an int/str platform error code, or ("http", status).
    fail_next: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def start(self, port: int = 0) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: avoid a 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                parsed = None
                if "json" in (self.headers.get("Content-Type") or ""):
                    try:
                        parsed = json.loads(body)
                    except ValueError:
                        parsed = None
                call = Call(method, url.path, query, {k.lower(): v for k, v in self.headers.items()}, body,
                            parsed)
                if url.path == "/_stats":  # for a stand-in running in another process (benchmarks)
                    raw = json.dumps({"sends": len(standin.sends()), "calls": len(standin.calls)}).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                with standin.lock:
                    standin.calls.append(call)
                status, answer = standin.answer(call)
                raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if isinstance(answer, bytes)
                                 else "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self.counter += 1
            return f"{prefix}{self.counter}"

    def forced(self) -> Any:
        with self.lock:
            return self.fail_next.popleft() if self.fail_next else None

    def answer(self, call: Call) -> tuple[int, Any]:
        raise NotImplementedError

    def sends(self) -> list[Call]:
        raise NotImplementedError


@dataclass
class ZaloStandIn(StandIn):
    """Zalo OpenAPI (/v3.0/oa/message/*, /v2.0/oa/upload/*) and OAuth v4 (/v4/oa/access_token)."""

    app_id: str = "4312345678901234567"
    app_secret: str = "test-zalo-app-secret"
    access_token: str = "access-1"
    refresh_token: str = "refresh-1"
    access_expired: bool = False
    oauth_delay: float = 0.0  # widens the race window between two refreshing workers
    refresh_calls: int = 0
    rejected_refreshes: int = 0
    closed_window_users: set[str] = field(default_factory=set)
    generation: int = 1

    def sends(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith(("/v3.0/oa/message", "/v2.0/oa/message"))
                and c.json is not None]

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.method == "GET" and call.path.startswith("/files/"):  # a file server for outgoing files
            return 200, b"%PDF-1.4 mau to khai"
        if call.path == "/v4/oa/access_token":
            return self._oauth(call)
        if call.headers.get("access_token") != self.access_token:
            return 200, {"error": -216, "message": "Access token is invalid"}
        if self.access_expired:
            return 200, {"error": -220, "message": "Access token has expired"}
        forced = self.forced()
        if isinstance(forced, tuple):
            return forced[1], {"error": -1, "message": "Internal server error"}
        if forced is not None:
            return 200, {"error": int(forced), "message": f"forced error {forced}"}
        if call.path.startswith("/v2.0/oa/upload/"):
            key = "attachment_id" if call.path.endswith(("/image", "/gif")) else "token"
            return 200, {"error": 0, "message": "Success", "data": {key: self.next_id("upload-")}}
        recipient = (call.json or {}).get("recipient") or {}
        if recipient.get("user_id") in self.closed_window_users:
            return 200, {"error": -230, "message": "User has not interacted with the OA in the last 7 days"}
        message = (call.json or {}).get("message") or {}
        if len(message.get("text") or "") > 2000:
            return 200, {"error": -210, "message": "Parameter exceeds the limit"}
        return 200, {"error": 0, "message": "Success",
                     "data": {"message_id": self.next_id("zmsg-"), "user_id": recipient.get("user_id", "")}}

    def _oauth(self, call: Call) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
        if self.oauth_delay:
            time.sleep(self.oauth_delay)
        with self.lock:
            self.refresh_calls += 1
            if call.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
                return 200, {"error": -14002, "error_name": "Invalid app", "error_description": "bad secret"}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
                self.rejected_refreshes += 1  # single-use: the old refresh token is dead
                return 200, {"error": -118, "error_name": "Invalid refresh token",
                             "error_description": "refresh token is invalid or used"}
            self.generation += 1
            self.access_token = f"access-{self.generation}"
            self.refresh_token = f"refresh-{self.generation}"
            self.access_expired = False
            return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token,
                         "expires_in": "90000"}


@dataclass
class GraphStandIn(StandIn):
    """Graph API Send API: POST /{version}/me/messages?access_token=..."""

    page_token: str = "test-page-token"
    closed_window_users: set[str] = field(default_factory=set)

    def sends(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/me/messages") and c.json
                and "message" in c.json]

    def actions(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/me/messages") and c.json
                and "sender_action" in c.json]

    @staticmethod
    def error(code: int, subcode: int | None = None, status: int = 400) -> tuple[int, Any]:
        err: dict[str, Any] = {"message": f"forced error {code}", "type": "OAuthException", "code": code,
                               "fbtrace_id": "BLBz/WZt8dN"}
        if subcode:
            err["error_subcode"] = subcode
        return status, {"error": err}

    def answer(self, call: Call) -> tuple[int, Any]:
        if not call.path.endswith("/me/messages"):
            return 404, {"error": {"message": "Unknown path", "type": "GraphMethodException", "code": 803}}
        if call.query.get("access_token") != self.page_token:
            return self.error(190, 1234567, 401)
        forced = self.forced()
        if isinstance(forced, tuple) and forced[0] == "http":
            return forced[1], {"error": {"message": "Please retry", "code": None}}
        if isinstance(forced, tuple):
            return self.error(*forced)
        body = call.json or {}
        recipient = str((body.get("recipient") or {}).get("id"))
        if "sender_action" in body:
            return 200, {"recipient_id": recipient}
        tag = body.get("tag")
        if tag in ("ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"):
            return self.error(100, 1893061)
        if recipient in self.closed_window_users and tag != "HUMAN_AGENT":
            return self.error(10, 2018278, 400)
        return 200, {"recipient_id": recipient, "message_id": self.next_id("m_")}
