"""How a word was spelled, and the misspellings the matcher forgives.

A name word keeps its diacritics (`spelling`); a message word written with diacritics must fit them
(`fits`: "kêt" fits "kết", "số" does not fit "sổ"). An unknown message word may be a commonly confused
sound (`confusions`: "tạm chú" -> "tạm trú") or, if long, one edit away (`within_one_edit`, `deletes`).

Standard library only: this module also runs inside the Rasa server (nlu.matching).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from nlu.procedure_rules import Rules
from nlu.text import Word

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook, dot below
Spelling = tuple[tuple[str, ...], str]  # per letter its shape marks, and the tone mark


def spelling(word: Word, exact: bool) -> Spelling | None:
    """The word's diacritics: per letter its shape marks (ă â ê ô ơ ư đ) and, for the word, its tone,
    wherever the tone mark sits (hoà = hòa). None for an abbreviation, or for a message word typed
    without diacritics (`exact` False): it may stand for any spelling."""
    if len(word.folded) != 1:
        return None
    letters: list[str] = []
    tone = ""
    for ch in unicodedata.normalize("NFD", word.text.lower()):
        if ch in _TONE_MARKS:
            tone = ch
        elif unicodedata.combining(ch):
            if letters:
                letters[-1] += ch
        else:
            letters.append("\u0111" if ch == "\u0111" else "")  # đ carries its stroke as a mark
    marks = tuple(letters)
    if not exact and not tone and not any(marks):
        return None
    return marks, tone


@lru_cache(maxsize=8192)
def fits(written: frozenset[Spelling], name: frozenset[Spelling]) -> bool:
    """Whether one of the message's spellings of a word fits one of the name's."""
    return bool(written & name) or any(_compatible(w, n) for w in written for n in name)


def _compatible(written: Spelling, name: Spelling) -> bool:
    """A message word fits a name word when it has no diacritic the name word lacks: "kêt" (tone left
    out) fits "kết", "số" does not fit "sổ"."""
    (marks, tone), (name_marks, name_tone) = written, name
    if tone and tone != name_tone:
        return False
    return len(marks) == len(name_marks) and all(
        set(m) <= set(n) for m, n in zip(marks, name_marks, strict=True))


def confusions(word: str, rules: Rules) -> set[str]:
    """The word with one commonly confused initial or final sound swapped (folded: "xinh" -> "sinh")."""
    out: set[str] = set()
    for group in rules.confusable_initials:
        for a in sorted(group, key=len, reverse=True):
            if word.startswith(a):
                out.update(b + word[len(a):] for b in group if b != a)
                break
    for group in rules.confusable_finals:
        for a in sorted(group, key=len, reverse=True):
            if word.endswith(a):
                out.update(word[: len(word) - len(a)] + b for b in group if b != a)
                break
    out.discard(word)
    return out


def within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one edit (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    return a[i + 1:] == b[i:] if la > lb else a[i:] == b[i + 1:]


def deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}

