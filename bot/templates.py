"""Citizen-facing texts, kept in data/templates/*.yml and never scattered through code.

Form of address everywhere: the bot speaks of itself as "em" and to the citizen as "anh/chị",
politely ("ạ"), in short chat-sized messages. "anh/chị" is how texts are written; the form the citizen is
actually called by (the agency's, or their own) is substituted when a reply is sent (bot.address).
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import DATA_DIR


class MissingTemplate(KeyError):
    pass


@lru_cache(maxsize=4)
def _load(directory: str) -> dict[str, Any]:
    texts: dict[str, Any] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if key in texts:
                raise ValueError(f"template {key!r} defined twice ({path.name})")
            texts[key] = value
    return texts


def text(key: str, /, directory: Path | None = None, **values: object) -> str:
    """The template `key` filled with `values`; a list of variants picks one at random."""
    texts = _load(str(directory or DATA_DIR / "templates"))
    if key not in texts:
        raise MissingTemplate(key)
    chosen = texts[key]
    if isinstance(chosen, list):
        chosen = random.choice(chosen)
    return str(chosen).format(**values).strip()


def has(key: str, directory: Path | None = None) -> bool:
    return key in _load(str(directory or DATA_DIR / "templates"))
