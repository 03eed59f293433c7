"""The app's only way to the NLU server: HTTP POST /model/parse on `RASA_URL`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

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
    """Thin, pooled HTTP client; one per process (requests.Session is thread-safe for this use)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        self._http.trust_env = False  # loopback/LAN NLU: no proxies, and no proxy env re-read on every call

    def parse(self, text: str) -> Parse:
        body = {"text": (text or "")[:MAX_TEXT_CHARS]}
        started = time.perf_counter()
        try:
            resp = self._http.post(f"{self.base_url}/model/parse", json=body, timeout=self.timeout)
            resp.raise_for_status()
            data: dict[str, Any] = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise NLUUnavailable(
                f"NLU server at {self.base_url} did not answer ({exc.__class__.__name__}); "
                f"start it with `{NLU_SERVER_COMMAND}`"
            ) from exc
        log.debug("nlu parse in %.1f ms", (time.perf_counter() - started) * 1000)
        return to_parse(body["text"], data)

    def available(self) -> bool:
        try:
            return self._http.get(f"{self.base_url}/status", timeout=min(self.timeout, 2.0)).ok
        except requests.RequestException:
            return False


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
