"""Courtesy in front of a request: "Chào ad, e muốn đăng ký khai sinh" is a request, not a greeting.

Citizens open with a greeting, thanks or an apology and go straight on to what they want, in one message.
Read whole, such a message looks like small talk to the classifier and the request is lost. So the leading
courtesy is recognised here, from declared tables, and what follows it is what gets understood (the NLU is
asked about `Opening.request`, the degraded mode reads it itself). A message that is only courtesy
("chào em ạ", "cảm ơn ad nhiều") is left whole: it is a greeting or thanks and is answered as one.

Matching is on folded words (nlu.text: no diacritics, chat abbreviations expanded: "e" -> "em",
"ad" -> "admin", "tks" -> "cam on"); the request keeps the citizen's own spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.text import Word, clean, words

# Folded phrase -> what it is. Longer phrases win ("xin chao" before "chao").
COURTESY: dict[tuple[str, ...], str] = {
    **{tuple(p.split()): "greet" for p in (
        "chao", "xin chao", "alo", "a lo", "hello", "hi", "helo", "chao buoi sang", "chao buoi chieu",
        "chao buoi toi",
    )},
    **{tuple(p.split()): "thank" for p in (
        "cam on", "cam ta", "thanks", "thank you", "thank", "thks", "da cam on",
    )},
    **{tuple(p.split()): "apology" for p in (
        "xin loi", "cho xin loi", "lam phien", "xin phep", "cho em xin phep", "cho toi xin phep",
    )},
}
# Who the courtesy is said by or to, and the particles around it ("e chào ad ạ", "alo ad ơi").
SPEAKERS = frozenset(("em", "toi", "minh", "chau", "con", "tao", "da", "vang", "a", "oi", "day"))
# Whole phrases only: "trung tâm" is taken, "tạm trú" after "cảm ơn ad" is not.
ADDRESSEES: frozenset[tuple[str, ...]] = frozenset(tuple(p.split()) for p in (
    "admin", "em", "anh", "chi", "ban", "bac", "oi", "a", "nhe", "nha", "nhieu", "bot", "trung tam",
    "moi nguoi", "ca nha", "shop", "page", "ak", "nhiu", "ha",
))
# What is left of a message that was only courtesy: punctuation, emoji.
_EMPTY = re.compile(r"^[\W_]*$")


@dataclass(frozen=True)
class Opening:
    """A message split into its leading courtesy (kinds in order) and the request after it."""

    courtesy: tuple[str, ...]
    request: str

    @property
    def only_courtesy(self) -> bool:
        return bool(self.courtesy) and not self.request


def _courtesy_at(tokens: list[str], k: int) -> tuple[str, int] | None:
    """The longest courtesy phrase starting at token k: (kind, tokens it takes)."""
    for size in (4, 3, 2, 1):
        if k + size > len(tokens):
            continue
        kind = COURTESY.get(tuple(tokens[k:k + size]))
        if kind is not None:
            return kind, size
    return None


def _addressee_at(tokens: list[str], k: int) -> int:
    """How many tokens an addressee or particle takes at token k (0: none)."""
    for size in (2, 1):
        if k + size <= len(tokens) and tuple(tokens[k:k + size]) in ADDRESSEES:
            return size
    return 0


def opening(message: str) -> Opening:
    """Split off the leading greetings, thanks and apologies (with who says them to whom).

    "Chào ad, e muốn đăng ký khai sinh cho con" -> (("greet",), "e muốn đăng ký khai sinh cho con");
    "cam on, cho hoi lam giay khai tu can gi" -> (("thank",), "cho hoi lam giay khai tu can gi");
    "em chào ad ạ" -> (("greet",), ""); "đăng ký khai sinh" -> ((), "đăng ký khai sinh").
    """
    text = clean(message).strip()
    found = words(text)
    # Folded tokens, each with the index of the word it comes from (an abbreviation may expand to two).
    tokens: list[str] = []
    owner: list[int] = []
    for i, word in enumerate(found):
        for part in word.folded:
            tokens.append(part)
            owner.append(i)
    kinds: list[str] = []
    k = 0
    end = 0  # characters of `text` taken by courtesy so far
    while k < len(tokens):
        start = k
        while k < len(tokens) and tokens[k] in SPEAKERS and _courtesy_at(tokens, k) is None:
            k += 1  # "dạ em" before "cảm ơn"
        hit = _courtesy_at(tokens, k) if k < len(tokens) else None
        if hit is None:
            k = start
            break
        kinds.append(hit[0])
        k += hit[1]
        while k < len(tokens) and (size := _addressee_at(tokens, k)) and _courtesy_at(tokens, k) is None:
            if k > 0 and owner[k] != owner[k - 1] and _punctuated(text, found, owner[k - 1]):
                break  # "Chào ad, e muốn ...": after the comma "e" is the requester, not the addressee
            k += size
        # the courtesy ends at a word boundary
        while k < len(tokens) and k > 0 and owner[k] == owner[k - 1]:
            k += 1
        end = found[owner[k - 1]].end
    if not kinds:
        return Opening((), text)
    rest = text[end:].lstrip(" ,.;:!-–—…?\t\n")
    if _EMPTY.match(rest):
        rest = ""
    return Opening(tuple(kinds), rest)


def _punctuated(text: str, found: list[Word], i: int) -> bool:
    """Whether punctuation follows word i (a comma, full stop, exclamation mark ...)."""
    after = text[found[i].end:found[i + 1].start] if i + 1 < len(found) else ""
    return bool(after.strip())


def request_text(message: str) -> str:
    """What the NLU should read: the request after the courtesy, or the whole message when it is only
    courtesy (then it is a greeting or thanks) or has none."""
    split = opening(message)
    return split.request if split.courtesy and split.request else message
