"""Matching rules as data: the filler and variant-marker tables of data/matching.yml, and age rules.

Standard library and PyYAML only: this module also runs inside the Rasa server (nlu.matching).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.text import fold, fold_word

log = logging.getLogger(__name__)

RULES_FILE = "matching.yml"
AGE_IN_TEXT = re.compile(r"\b(?:(duoi|tren|tu du|tu) )?(\d{1,3}) tuoi\b")
AGE_UNDER = re.compile(r"\bduoi (\d{1,3}) tuoi\b")
AGE_FROM = re.compile(r"\btu (?:du )?(\d{1,3}) tuoi\b")


def ages_in(text: str) -> list[int]:
    """Ages a message speaks of: "bé 5 tuổi" -> 5; "dưới 14 tuổi" -> 13; "trên 14 tuổi" -> 15."""
    shift = {"duoi": -1, "tren": 1}
    return [int(n) + shift.get(q, 0) for q, n in AGE_IN_TEXT.findall(fold(text))]


def age_bounds(name: str) -> tuple[int, int] | None:
    """The ages a procedure name is limited to, e.g. "dưới 14 tuổi" -> (0, 13); None when unlimited."""
    folded = fold(name)
    if m := AGE_UNDER.search(folded):
        return 0, int(m.group(1)) - 1
    if m := AGE_FROM.search(folded):
        return int(m.group(1)), 200
    return None


@dataclass(frozen=True)
class Rules:
    """Filler and variant-marker lists from data/matching.yml."""

    stop_phrases: tuple[tuple[str, ...], ...] = ()
    stopwords: frozenset[str] = frozenset()
    soft_words: frozenset[str] = frozenset()
    variant_markers: tuple[tuple[str, ...], ...] = ()
    optional_phrases: tuple[tuple[str, ...], ...] = ()
    qualifiers: tuple[tuple[str, ...], ...] = ()
    implies: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    confusable_initials: tuple[tuple[str, ...], ...] = ()
    confusable_finals: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def load(cls, path: Path) -> Rules:
        if not path.is_file():
            log.warning("matching rules missing: %s", path)
            return cls()
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

        def groups(key: str) -> tuple[tuple[str, ...], ...]:
            items = raw.get(key) or ()
            return tuple(tuple(fold_word(str(x)) for x in g) for g in items if isinstance(g, list))

        def phrases(key: str) -> tuple[tuple[str, ...], ...]:
            items = {tuple(fold_word(str(p)).split()) for p in raw.get(key) or ()}
            return tuple(sorted((p for p in items if p), key=len, reverse=True))

        return cls(
            stop_phrases=phrases("stop_phrases"),
            stopwords=frozenset(fold_word(str(w)) for w in raw.get("stopwords") or ()),
            soft_words=frozenset(fold_word(str(w)) for w in raw.get("soft_words") or ()),
            variant_markers=phrases("variant_markers"),
            optional_phrases=phrases("optional_phrases"),
            qualifiers=phrases("qualifiers"),
            implies=tuple(
                (tuple(fold_word(str(p)).split()), tuple(fold_word(str(concept)).split()))
                for concept, items in (raw.get("implies") or {}).items()
                for p in items or () if str(p).strip()
            ),
            confusable_initials=groups("confusable_initials"),
            confusable_finals=groups("confusable_finals"),
        )


# ---------------------------------------------------------------------------------------------------
# Loading the catalogue
