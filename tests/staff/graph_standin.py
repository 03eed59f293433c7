"""A minimal local stand-in for the Messenger Send API (`POST /{version}/me/messages`, channels.md §2.4).

Used by the browser test when tests/channels/standins.py is not available: it answers like the Graph
API (`{"recipient_id", "message_id"}`, error 190 for a wrong page token) and records what it received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class GraphStandIn:
    def __init__(self, page_token: str, version: str) -> None:
        self.page_token = page_token
        self.version = version
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                token = parse_qs(parts.query).get("access_token", [""])[0]
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if parts.path != f"/{standin.version}/me/messages":
                    return self._answer(404, {"error": {"message": "Unknown path", "code": 803}})
                if token != standin.page_token:
                    return self._answer(
                        400, {"error": {"message": "Invalid OAuth access token.", "code": 190}}
                    )
                if "sender_action" in body:
                    return self._answer(200, {"recipient_id": body["recipient"]["id"]})
                with standin._lock:
                    standin.received.append(body)
                    mid = f"m_standin_{len(standin.received)}"
                return self._answer(200, {"recipient_id": body["recipient"]["id"], "message_id": mid})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GraphStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def texts_for(self, psid: str) -> list[str]:
        with self._lock:
            return [b["message"].get("text", "") for b in self.received if b["recipient"]["id"] == psid]
