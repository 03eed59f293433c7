"""Dialogue fixtures: a local file server standing in for a platform CDN, settings that allow it,
a scripted NLU for engine tests, and a chat driver."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.services import Services

from .chat import FILES, Chat, ScriptedNLU


@pytest.fixture(scope="session")
def file_server() -> Iterator[str]:
    """http://127.0.0.1:<port> serving a few small files."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = FILES.get(self.path, (b"", ""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Shared settings plus the local file server as an allowed attachment host."""
    return Settings.load(**{**settings.__dict__, "attachment_hosts": ("127.0.0.1",)})


@pytest.fixture
def nlu(services: Services) -> ScriptedNLU:
    """Replace the NLU client with a script (engine tests; conversations use the real server)."""
    fake = ScriptedNLU()
    services.nlu = fake  # type: ignore[assignment]
    return fake


@pytest.fixture
def make_chat(services: Services, file_server: str) -> Callable[..., Chat]:
    def make(user: str = "citizen-1", **kw: Any) -> Chat:
        return Chat(services=services, user=user, file_base=file_server, **kw)

    return make
