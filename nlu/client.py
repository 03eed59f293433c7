"""The app's only way to the NLU server: HTTP POST /model/parse on `RASA_URL`."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from bot.keepalive import KeptAlive

log = logging.getLogger(__name__)

NLU_SERVER_COMMAND = "make nlu-server"
MAX_TEXT_CHARS = 2000  # longer messages are cut: no chat platform delivers more in one message


class NLUUnavailable(RuntimeError):
    """The NLU server did not answer; the message names the command that starts it."""


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int | None = None
    end: int | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    score: float


@dataclass(frozen=True)
class Parse:
    """What the NLU understood of one message."""

    text: str
    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()
    # Ranked procedure matches from the linker; the `procedure` entity is set only when one is clear.
    candidates: tuple[Candidate, ...] = ()

    def entity(self, name: str) -> str | None:
        for e in self.entities:
            if e.entity == name:
                return e.value
        return None

    @property
    def procedure(self) -> str | None:
        return self.entity("procedure")


class NLUClient:
    """The NLU server's HTTP API over one kept-alive connection per thread (`bot.keepalive`)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"RASA_URL must be an http(s) URL, got {base_url!r}")
        self._http = KeptAlive()

    def parse(self, text: str) -> Parse:
        body = {"text": (text or "")[:MAX_TEXT_CHARS]}
        started = time.perf_counter()
        try:
            answer = self._http.post_json(f"{self.base_url}/model/parse", body, timeout=self.timeout)
            if answer.status_code != 200:
                raise HTTPException(f"HTTP {answer.status_code}")
            data: dict[str, Any] = answer.json()
        except (OSError, HTTPException, ValueError) as exc:
            raise NLUUnavailable(
                f"NLU server at {self.base_url} did not answer ({exc.__class__.__name__}); "
                f"start it with `{NLU_SERVER_COMMAND}`"
            ) from exc
        log.debug("nlu parse in %.1f ms", (time.perf_counter() - started) * 1000)
        return to_parse(body["text"], data)

    def available(self) -> bool:
        """True when the server answers and has a model loaded (it can parse now)."""
        url = urlsplit(self.base_url)
        factory = HTTPSConnection if url.scheme == "https" else HTTPConnection
        conn = factory(url.hostname or "", url.port, timeout=min(self.timeout, 2.0))
        try:
            conn.request("GET", url.path + "/status")
            answer = conn.getresponse()
            if answer.status != 200:
                return False
            status = json.loads(answer.read() or b"{}")
            return isinstance(status, dict) and bool(status.get("model_file"))
        except (OSError, HTTPException, ValueError):
            return False
        finally:
            conn.close()


def to_parse(text: str, data: dict[str, Any]) -> Parse:
    intent = data.get("intent") or {}
    entities = tuple(
        Entity(
            entity=str(e.get("entity")),
            value=str(e.get("value")),
            start=e.get("start"),
            end=e.get("end"),
            confidence=e.get("confidence_entity") or e.get("confidence"),
        )
        for e in data.get("entities") or ()
    )
    candidates = tuple(
        Candidate(code=c["code"], name=c["name"], score=float(c["score"]))
        for c in data.get("procedure_candidates") or ()
    )
    return Parse(
        text=text,
        intent=str(intent.get("name") or "out_of_scope"),
        confidence=float(intent.get("confidence") or 0.0),
        entities=entities,
        candidates=candidates,
    )
