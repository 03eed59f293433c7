"""Vietnamese chat text: one normal form for understanding and matching.

Citizens type with or without diacritics, in NFC or NFD, with old or new tone-mark placement
(hoà / hòa) and with chat abbreviations. Understanding and procedure matching both work on the
*folded* form: lower case, no diacritics, đ -> d, abbreviations expanded. Spans always refer to
the original text, so entities can be cut from what the citizen wrote.

Standard library and PyYAML only: this module also runs inside the Rasa server.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_ABBREVIATIONS = Path(__file__).resolve().parent.parent / "data" / "abbreviations.yml"

# Letters, digits and the joiners used inside codes (1.001193, 000.00.12.H62-251105-0004, +84...).
_WORD = re.compile(r"[^\W_]+(?:[.\-/][^\W_]+)*", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


@dataclass(frozen=True)
class Word:
    """A word of the original text and its folded forms (several when an abbreviation expands)."""

    text: str
    start: int
    end: int
    folded: tuple[str, ...]


def clean(text: str) -> str:
    """NFC, without control or zero-width characters; spans of `words()` refer to this string."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text or ""))


def strip_diacritics(text: str) -> str:
    """'Đăng ký khai sinh' -> 'Dang ky khai sinh' (tone placement no longer matters)."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d").replace("Đ", "D")


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """A word's folded form. Cached: a turn folds the same words many times (control words, options,
    interruptions), and a language's words are few."""
    return strip_diacritics(word).lower()


@lru_cache(maxsize=4)
def load_abbreviations(path: str | None = None) -> dict[str, tuple[str, ...]]:
    """Abbreviation table from data/abbreviations.yml, keys folded, values split into words."""
    source = Path(path) if path else DEFAULT_ABBREVIATIONS
    raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    return {fold_word(str(k)): tuple(fold_word(str(v)).split()) for k, v in raw.items()}


def words(text: str, abbreviations: dict[str, tuple[str, ...]] | None = None) -> list[Word]:
    """Split `clean(text)` into words with spans; fold each and expand known abbreviations."""
    table = load_abbreviations() if abbreviations is None else abbreviations
    out: list[Word] = []
    for m in _WORD.finditer(clean(text)):
        token = m.group(0)
        folded = fold_word(token)
        expansion = table.get(folded)
        out.append(Word(token, m.start(), m.end(), expansion if expansion else (folded,)))
    return out


def fold(text: str, abbreviations: dict[str, tuple[str, ...]] | None = None) -> str:
    """The normal form used for understanding and matching: 'Đk KS cho bé' -> 'dang ky khai sinh cho be'."""
    if abbreviations is None:
        return _fold_default(text)
    return " ".join(f for w in words(text, abbreviations) for f in w.folded)


@lru_cache(maxsize=4096)
def _fold_default(text: str) -> str:
    """`fold` with the project's abbreviations, cached: one message is folded by every reader of a turn
    (courtesy, control words, the step, interruptions), and option labels on every turn."""
    return " ".join(f for w in words(text) for f in w.folded)


def has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text
