"""Scoring: how well a candidate name fits a message, and when the best one is clear enough to link.

Per candidate name the index sums a `Tally` of the words the message and the name share; `blend` turns
its coverage of the name, of the message and of their word order into a score; `weigh_ages` moves names
with an age condition by the age a message gives; `clear_link` decides whether the top candidate is
clearly meant (enough evidence and a margin over the runner-up).

Standard library only: this module also runs inside the Rasa server (nlu.matching).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

# Scoring a candidate against the message
W_NAME, W_QUERY, W_ORDER = 0.35, 0.4, 0.25  # name covered, message explained, word order
QUERY_MARKER_FACTOR = 4.0  # a marker word of the message ("... lại ...") that a candidate lacks
SOFT_MISS = 0.3  # what a filler-like word of the message costs a candidate that lacks it
SOFT_EVIDENCE = 0.5  # a filler-like word found in a name is half the evidence of a content word
PREFIX_BONUS = 0.05  # the message is the beginning of the official name
EXACT_SCORE = 1.0
NEAR_EXACT_SCORE = 0.98  # exact, but another exact name uses more of the message
MIN_SCORE = 0.3  # search() drops weaker candidates ...
MIN_NAME_COVER = 0.2  # ... and those whose name or alias the message hardly covers

# When a message's ages move a name with an age condition
AGE_FIT_BONUS = 0.15
AGE_MISFIT = 0.5

# When link() answers
LINK_MIN_SCORE = 0.5
LINK_MIN_MARGIN = 0.06  # over the runner-up
LINK_NEAR_MARGIN = 0.03  # enough when only the top explains every word or the runner-up is a variant
LINK_COVER_RATIO = 0.85  # runner-up covers clearly less of its name: it carries words of its own
LINK_MIN_NAME_COVER = 0.45  # without a rare word, most of the name must be there ...
LINK_MIN_EVIDENCE = 6.0  # ... or content words of this summed IDF (about two rare words)


@dataclass(slots=True)
class Tally:
    """What a message has of one candidate name, summed over the words they share (by the index's
    scoring loop, which updates the fields in place: it runs per shared word and name)."""

    name_weight: float = 0.0  # weight of the name's words the message has
    message_weight: float = 0.0  # weight of the message's words the name has ...
    filler_weight: float = 0.0  # ... of it, filler-like words
    content_hits: int = 0  # content words of the message found in the name ...
    implied_hits: int = 0  # ... of them, words only implied by a phrase ("quốc tịch Hàn" -> nước ngoài)
    filler_hits: int = 0  # filler-like words of the message found in the name
    evidence: float = 0.0  # name weight of the words found, filler-like ones at SOFT_EVIDENCE

    @property
    def words_found(self) -> float:
        """How many of the message's words the name has, filler-like ones at SOFT_EVIDENCE."""
        return self.content_hits + SOFT_EVIDENCE * self.filler_hits


@dataclass(frozen=True)
class Candidate:
    """A procedure as scored through its best-fitting name."""

    score: float
    entry: int
    variant: int  # -1: the message holds the procedure code itself
    name_cover: float = 1.0  # share of the variant's weighted words the message has (filler-like at half)
    complete: bool = True  # every content word of the message is in the variant
    special: bool = False  # the variant has a variant-marker word the message lacks
    evidence: float = 0.0  # summed rarity (IDF) of the message's content words found in its best name
    hits: float = 0.0  # how many of the message's words its best name has (filler-like ones count half)



def blend(name_cover: float, message_cover: float, name_order: float, message_order: float) -> float:
    """The score of a name the message does not hold exactly: how much of the name it covers, how much
    of the message the name explains, and how many word pairs appear in the same order."""
    return W_NAME * name_cover + W_QUERY * message_cover + W_ORDER * (name_order + message_order) / 2


def weigh_ages(ages: Sequence[int], bounds: dict[int, tuple[int, int]], best: dict[int, Candidate]) -> None:
    """Names that hold an age condition ("dưới 14 tuổi", "từ đủ 14 tuổi trở lên") win when the
    message gives an age that fits, and lose when it gives one that does not."""
    if not ages:
        return
    fit = {i: all(b[0] <= a <= b[1] for a in ages) for i in best if (b := bounds.get(i)) is not None}
    if len(set(fit.values())) < 2:
        # The age tells nothing apart ("trẻ dưới 6 tuổi" fits both liên thông procedures):
        # only push down names it rules out.
        for i in (i for i, ok in fit.items() if not ok):
            best[i] = replace(best[i], score=best[i].score * AGE_MISFIT)
        return
    for i, ok in fit.items():
        c = best[i]
        if c.score < EXACT_SCORE:
            best[i] = replace(c, score=min(0.99, c.score + AGE_FIT_BONUS) if ok else c.score * AGE_MISFIT)


def clear_link(ranked: Sequence[Candidate]) -> bool:
    """Whether the best candidate is clearly the procedure meant (`ranked` best first)."""
    if not ranked or ranked[0].score < LINK_MIN_SCORE:
        return False
    top = ranked[0]
    second = ranked[1] if len(ranked) > 1 else Candidate(0.0, -1, -1, 0.0, False)
    margin = top.score - second.score
    if top.score >= EXACT_SCORE:
        return second.score < EXACT_SCORE  # the message names exactly one procedure
    if top.evidence < LINK_MIN_EVIDENCE and (top.name_cover < LINK_MIN_NAME_COVER or top.hits < 2):
        return False  # one word, or a common word or two, shared with a name is no evidence
    return margin >= LINK_MIN_MARGIN or (
        # close scores, but the runner-up lacks a word of the message or is a special variant
        # (it carries a marker word the message lacks) while the top is not
        margin >= LINK_NEAR_MARGIN and not top.special
        and ((top.complete and (not second.complete
                                or second.name_cover <= top.name_cover * LINK_COVER_RATIO))
             or second.special)
    )
