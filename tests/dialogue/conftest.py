"""Dialogue fixtures: a local file server standing in for a platform CDN, settings that allow it,
a scripted NLU for engine tests, and a chat driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.services import Services

from .chat import FILES, Chat, ScriptedNLU, serve_files


@pytest.fixture(scope="session")
def file_server() -> Iterator[str]:
    """http://127.0.0.1:<port> serving a few small files."""
    server, url = serve_files(lambda path: FILES.get(path, (b"", "")))
    yield url
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
