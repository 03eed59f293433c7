"""Procedure matching: which catalogue procedure does a chat message mean?

Used by the Rasa procedure linker (inside the Rasa server: standard library + PyYAML only, no `bot`
imports, Python 3.10) and by `motcua catalog search`, so both answer the same way. This module holds the
index and its search; the parts it uses are read (`nlu.procedures`: the catalogue, `nlu.procedure_rules`:
data/matching.yml and age rules), spelling (`nlu.spelling`) and scoring (`nlu.scoring`).

Every official name, short name and alias becomes a *variant*: its folded words (nlu.text.words: no
diacritics, abbreviations expanded) minus filler (data/matching.yml), each weighted by its rarity in the
catalogue (IDF), by its place in the name (names put action and object first, qualifiers and parentheses
after) and, for words that set a variant apart from a base procedure ("lại", "nước ngoài", "lưu động",
or whatever a name has beyond another, shorter name), more. An inverted index finds the variants sharing
a content word with the message; each is scored by
- how much of the variant the message covers, so a generic "khai sinh" finds the plain registration;
- how much of the message the variant explains (words that are filler in chat but content in some names,
  such as "làm" / "lâm" or "cần" / "căn", count only where they match);
- how many word pairs appear in the same order.
Words written with diacritics must fit the name's ("số đó" is not "sổ đỏ"; "kêt" fits "kết"), unknown
words get one commonly confused sound swapped ("tạm chú" -> "tạm trú") or, if long, one edit, and a
nationality implies "nước ngoài". A message holding exactly a variant's words scores 1. `link` answers
only when the best match is clear (enough evidence and a margin over the runner-up); otherwise the
caller offers the top three from `search`.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

from nlu.procedure_rules import RULES_FILE, Rules, age_bounds, ages_in
from nlu.procedures import DEFAULT_DATA_DIR, Entry, load_entries
from nlu.scoring import (
    EXACT_SCORE,
    MIN_NAME_COVER,
    MIN_SCORE,
    NEAR_EXACT_SCORE,
    PREFIX_BONUS,
    QUERY_MARKER_FACTOR,
    SOFT_EVIDENCE,
    SOFT_MISS,
    Candidate,
    Tally,
    blend,
    clear_link,
    weigh_ages,
)
from nlu.spelling import Spelling, confusions, deletes, fits, spelling, within_one_edit
from nlu.text import Word, clean, words

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_DATA_DIR", "RULES_FILE", "Entry", "Match", "ProcedureIndex", "Rules", "load_entries"]

MAX_QUERY_WORDS = 400  # a chat message longer than this is cut; procedure names are far shorter
NOISE_MIN_WORDS, NOISE_SHARE = 12, 0.5  # random bytes: most "words" single characters or foreign script
TYPO_MIN_LEN = 5  # shorter unknown words get only sound swaps, never edits ("chào" is not "chấp")

# Weights of a name's words (what it costs a candidate when the message lacks one)
POSITION_FACTORS = ((6, 1.0), (12, 0.5))  # first six words full weight, next six half ...
LATE_FACTOR = 0.2  # ... the rest a fifth
QUALIFIER_FACTOR = 0.5  # words after "cho", "đối với", "tại" ... (who/where qualifiers)
MINOR_FACTOR = 0.35  # words in parentheses ("(thực hiện tại cấp xã)") or optional phrases
MARKER_FACTOR = 2.5  # words that set a variant apart ("lại", "lưu động", what a longer sibling adds)
MARKER_HEAD = 8  # a listed marker word further into a name is description, not a variant
SOFT_NAME_FACTOR = 0.5  # generic words ("cấp", "đăng ký", "giấy") that citizens often leave out
_PARENS = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Match:
    """A ranked candidate; start/end locate the matched words in the text that was searched."""

    code: str
    name: str
    short_name: str
    score: float
    start: int | None = None
    end: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "score": self.score}



# ---------------------------------------------------------------------------------------------------
# Text to weighted content tokens


@dataclass(frozen=True)
class _Token:
    text: str  # folded
    word: int  # index into the words() list, for spans
    soft: bool = False  # filler in chat, content in some names
    minor: bool = False  # inside parentheses, or an optional phrase
    late: bool = False  # after the name's first qualifier ("cho ...", "đối với ...")
    marker: bool = False  # part of a variant-marker phrase outside the qualifier
    spelling: Spelling | None = None  # how it was written with diacritics (see _spelling); None: unknown
    implied: bool = False  # not written but implied by a phrase (data/matching.yml `implies`)


def _phrase_index(phrases: Iterable[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    """Phrases by first word, longest first."""
    idx: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for p in sorted(phrases, key=len, reverse=True):
        idx[p[0]].append(p)
    return idx


def _phrase_at(texts: Sequence[str], k: int, index: dict[str, list[tuple[str, ...]]]) -> int:
    """Length of the longest indexed phrase starting at position k (0 when none)."""
    for p in index.get(texts[k], ()):
        if tuple(texts[k:k + len(p)]) == p:
            return len(p)
    return 0


def _covered(texts: Sequence[str], index: dict[str, list[tuple[str, ...]]]) -> list[bool]:
    """Which positions of `texts` belong to one of the indexed phrases."""
    marked = [False] * len(texts)
    k = 0
    while k < len(texts):
        n = _phrase_at(texts, k, index)
        for j in range(k, k + n):
            marked[j] = True
        k += max(n, 1)
    return marked


class _Tokenizer:
    """Chat text or a name -> content tokens, with the flags that weight them in names."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.stop = _phrase_index(rules.stop_phrases)
        self.optional = _phrase_index(rules.optional_phrases)
        self.qualifiers = _phrase_index(rules.qualifiers)
        self.markers = _phrase_index(rules.variant_markers)
        self.implies = _phrase_index(p for p, _ in rules.implies)
        self.implied = dict(rules.implies)

    def __call__(self, text: str, name: bool = False) -> tuple[list[_Token], list]:
        ws = words(text)
        flat = [(f.lstrip("0") or "0") if f.isdigit() else f for w in ws for f in w.folded]  # 02 = 2
        owner = [i for i, w in enumerate(ws) for _ in w.folded]
        # single letters are noise (initials, list markers); single digits count ("dưới 6 tuổi")
        keep = [(len(t) > 1 or t.isdigit()) and t not in self.rules.stopwords for t in flat]
        for k, n in enumerate(_phrase_at(flat, k, self.stop) for k in range(len(flat))):
            for j in range(k, k + n):
                keep[j] = False
        if not name:
            # a phrase implying a concept ("quốc tịch Hàn" -> nước ngoài) is said by the implied words,
            # which count like content words; the phrase's own words count only where a candidate has them
            implied = _covered(flat, self.implies)
            out = [_Token(t, owner[k], implied[k] or t in self.rules.soft_words,
                          spelling=spelling(ws[owner[k]], False))
                   for k, t in enumerate(flat) if keep[k]]
            for k in range(len(flat)):
                n = _phrase_at(flat, k, self.implies)
                if n:
                    concept = self.implied[tuple(flat[k:k + n])]
                    out += [_Token(t, owner[k + n - 1], implied=True) for t in concept]
            return out, ws
        parens = [m.span() for m in _PARENS.finditer(clean(text))]
        optional = _covered(flat, self.optional)
        late_from = next((k for k in range(2, len(flat)) if _phrase_at(flat, k, self.qualifiers)), len(flat))
        markers = _covered(flat, self.markers)
        out = []
        for k, t in enumerate(flat):
            if not keep[k]:
                continue
            start = ws[owner[k]].start
            in_parens = any(a <= start < b for a, b in parens)
            out.append(_Token(t, owner[k], t in self.rules.soft_words, in_parens or optional[k],
                              k >= late_from, markers[k] and k < min(late_from, MARKER_HEAD),
                              spelling(ws[owner[k]], True)))
        return out, ws



def _position_factor(pos: int) -> float:
    for limit, factor in POSITION_FACTORS:
        if pos < limit:
            return factor
    return LATE_FACTOR


def _distinguishing(names: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """Per name, the words it has beyond another, shorter name whose words it all contains:
    "đăng ký LẠI khai sinh" over "đăng ký khai sinh". A message lacking them means the shorter one."""
    count: dict[str, int] = defaultdict(int)
    for ws in names:
        for w in ws:
            count[w] += 1
    # a name can only lie inside names that hold its rarest word
    by_rarest: dict[str, list[int]] = defaultdict(list)
    for j, ws in enumerate(names):
        if ws:
            by_rarest[min(ws, key=lambda w: (count[w], w))].append(j)
    out = []
    for i, ws in enumerate(names):
        extra: set[str] = set()
        for w in ws:
            for j in by_rarest.get(w, ()):
                if j != i and names[j] < ws:
                    extra |= ws - names[j]
        out.append(frozenset(extra))
    return out


# ---------------------------------------------------------------------------------------------------
# The index


@dataclass
class _Variant:
    entry: int
    tokens: tuple[str, ...]
    weights: dict[str, float]  # token -> weight when the message lacks it
    total: float
    bigrams: dict[tuple[str, str], float]
    bigram_total: float
    token_set: frozenset[str] = field(default_factory=frozenset)
    markers: frozenset[str] = field(default_factory=frozenset)  # its marker and distinguishing words
    spellings: dict[str, frozenset[Spelling]] = field(default_factory=dict)  # token -> written forms


class ProcedureIndex:
    """Inverted index over every name, short name and alias of the catalogue."""

    def __init__(self, entries: Sequence[Entry], rules: Rules | None = None) -> None:
        self.entries = list(entries)
        self.rules = rules if rules is not None else Rules.load(DEFAULT_DATA_DIR / RULES_FILE)
        self._tokenize = _Tokenizer(self.rules)
        self._by_code = {e.code: i for i, e in enumerate(self.entries)}
        raw_variants: list[tuple[int, list[_Token]]] = []
        name_sets: list[frozenset[str]] = []
        for i, e in enumerate(self.entries):
            seen: set[tuple[str, ...]] = set()
            for k, text in enumerate((e.name, e.short_name, *e.aliases)):
                toks, _ = self._tokenize(text, name=True)
                key = tuple(t.text for t in toks)
                if k == 0:
                    name_sets.append(frozenset(key))
                if toks and key not in seen:
                    seen.add(key)
                    raw_variants.append((i, toks))
        df: dict[str, int] = defaultdict(int)
        per_entry: dict[int, set[str]] = defaultdict(set)
        for i, toks in raw_variants:
            per_entry[i].update(t.text for t in toks)
        for tokset in per_entry.values():
            for t in tokset:
                df[t] += 1
        n = max(1, len(self.entries))
        self.idf: dict[str, float] = {t: math.log(1 + n / c) for t, c in df.items()}
        extra = _distinguishing(name_sets)
        self.variants: list[_Variant] = []
        # word -> (variant, weight, the word's written forms in that variant)
        self._postings: dict[str, list[tuple[int, float, frozenset[Spelling] | None]]] = defaultdict(list)
        self._bigram_postings: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for i, toks in raw_variants:
            v = self._variant(i, toks, extra[i])
            vid = len(self.variants)
            self.variants.append(v)
            for t, w in v.weights.items():
                self._postings[t].append((vid, w, v.spellings.get(t)))
            for bg, w in v.bigrams.items():
                self._bigram_postings[bg].append((vid, w))
        self._entry_words = [frozenset(per_entry.get(i, ())) for i in range(len(self.entries))]
        self._ages = {i: b for i, e in enumerate(self.entries) if (b := age_bounds(e.name)) is not None}
        self._typo: dict[str, set[str]] = defaultdict(set)
        for t in self.idf:
            if len(t) >= TYPO_MIN_LEN and t.isalpha():
                for d in deletes(t):
                    self._typo[d].add(t)
        self._last: tuple[str, tuple[list[Candidate], list[_Token], list[Word]]] | None = None
        log.info("procedure index: %d entries, %d variants, %d words",
                 len(self.entries), len(self.variants), len(self.idf))

    def _variant(self, entry: int, toks: list[_Token], extra: frozenset[str]) -> _Variant:
        """Weights of a name's words: what it costs a candidate when the message lacks each."""
        weights: dict[str, float] = {}
        for k, t in enumerate(toks):
            idf = self.idf[t.text]
            if t.minor:
                w = idf * MINOR_FACTOR * min(1.0, _position_factor(k) * 2)
            elif t.text in extra or t.marker:
                w = idf * MARKER_FACTOR
            else:
                w = idf * _position_factor(k) * (QUALIFIER_FACTOR if t.late else 1.0)
            if t.soft and not t.minor and t.text not in extra:
                w *= SOFT_NAME_FACTOR
            weights[t.text] = max(weights.get(t.text, 0.0), w)
        texts = tuple(t.text for t in toks)
        bigrams = {(a, b): (weights[a] + weights[b]) / 2 for a, b in pairwise(texts) if a != b}
        special = frozenset(t.text for t in toks if not t.minor and (t.marker or t.text in extra))
        spellings: dict[str, set[Spelling]] = defaultdict(set)
        for t in toks:
            if t.spelling is not None:
                spellings[t.text].add(t.spelling)
        return _Variant(entry, texts, weights, sum(weights.values()), bigrams, sum(bigrams.values()),
                        frozenset(texts), special, {t: frozenset(v) for t, v in spellings.items()})

    @classmethod
    def load(cls, data_dir: Path = DEFAULT_DATA_DIR, raw_dir: Path | None = None) -> ProcedureIndex:
        return cls(load_entries(data_dir, raw_dir), Rules.load(data_dir / RULES_FILE))

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, code: str) -> Entry | None:
        i = self._by_code.get(code)
        return None if i is None else self.entries[i]

    # -- query side -------------------------------------------------------------------------------

    def _pairs(self, word: str, before: str | None, after: str | None) -> int:
        """How many of the word's neighbours it forms a catalogue word pair with (0 to 2)."""
        return int((before, word) in self._bigram_postings) + int((word, after) in self._bigram_postings)

    def _correct(self, tok: str, before: str | None, after: str | None, written: bool) -> str | None:
        """Another catalogue word for `tok` that, unlike it, forms a catalogue word pair with a neighbour:
        a commonly confused sound swapped ("tạm chú" -> "tạm trú", "khai xinh" -> "khai sinh"), or for an
        unknown word of 5+ letters typed without diacritics, one edit away. Short syllables are one edit
        from many catalogue words ("chào" / "chấp"), hence the neighbour check."""
        if not tok.isascii() or not tok.isalpha() or self._pairs(tok, before, after):
            return None
        options = [c for c in confusions(tok, self.rules) if c in self.idf]
        if not options and not written and tok not in self.idf and len(tok) >= TYPO_MIN_LEN:
            pool: set[str] = set(self._typo.get(tok, ()))
            for d in deletes(tok):
                if d in self.idf:
                    pool.add(d)
                pool.update(self._typo.get(d, ()))
            options = [c for c in pool if within_one_edit(tok, c)]
        confirmed = [(self._pairs(c, before, after), c) for c in options]
        confirmed = [(n, c) for n, c in confirmed if n]
        return min(confirmed, key=lambda x: (-x[0], self.idf[x[1]], x[1]))[1] if confirmed else None

    def _query(self, text: str) -> tuple[list[_Token], list]:
        toks, ws = self._tokenize(text)
        implied = [t for t in toks if t.implied and t.word < MAX_QUERY_WORDS]
        toks = [t for t in toks if not t.implied and t.word < MAX_QUERY_WORDS]
        out = []
        for k, t in enumerate(toks):
            before = out[-1].text if out else None
            after = toks[k + 1].text if k + 1 < len(toks) else None
            fixed = None
            if (before or after) and (not t.soft or t.text not in self.idf):
                fixed = self._correct(t.text, before, after, t.spelling is not None)
            if fixed is not None:
                out.append(_Token(fixed, t.word, fixed in self.rules.soft_words))
            elif t.text in self.idf:
                out.append(t)
        return out + implied, ws

    def _rank(self, text: str) -> tuple[list[Candidate], list[_Token], list]:
        """(score, entry, best variant) for every candidate, best first; the last answer is reused
        because the linker asks for link() and search() of the same message."""
        if not isinstance(text, str) or not text.strip():
            return [], [], []
        last = self._last  # one read: another thread may replace it meanwhile
        if last is not None and last[0] == text:
            return last[1]
        result = self._score(text)
        self._last = (text, result)
        return result

    def _score(self, text: str) -> tuple[list[Candidate], list[_Token], list]:
        toks, ws = self._query(text)
        if _looks_like_noise(ws):
            return [], [], ws
        codes = [self._by_code[w.folded[0]] for w in ws[:MAX_QUERY_WORDS]
                 if len(w.folded) == 1 and w.folded[0] in self._by_code]
        if not toks and not codes:
            return [], toks, ws
        hard = {t.text for t in toks if not t.soft}
        implied_only = hard - {t.text for t in toks if not t.soft and not t.implied}
        soft = {t.text for t in toks if t.soft} - hard
        alltoks = hard | soft
        # a variant marker the message has ("... LẠI ...") counts more when a candidate lacks it
        marked = _covered([t.text for t in toks], self._tokenize.markers)
        qweight = {t: self.idf[t] for t in alltoks}
        for t, m in zip(toks, marked, strict=True):
            if m and not t.soft:
                qweight[t.text] = self.idf[t.text] * QUERY_MARKER_FACTOR
        hard_weight = sum(qweight[t] for t in hard)
        soft_weight = sum(qweight[t] for t in soft)
        written_sets: dict[str, set[Spelling]] = defaultdict(set)
        for tok in toks:
            if tok.spelling is not None:
                written_sets[tok.text].add(tok.spelling)
        written = {t: frozenset(forms) for t, forms in written_sets.items()}
        tallies: dict[int, Tally] = {}  # per candidate name (variant)
        for t in sorted(hard) + sorted(soft):  # content words first: they decide who is a candidate
            q = qweight[t]
            is_soft = t in soft
            implied = t in implied_only
            forms = written.get(t)
            postings = self._postings.get(t, ())
            only_known = is_soft and bool(hard)
            if only_known and len(postings) > len(tallies):
                # a filler-like word only adds to candidates found by content words: look it up in them
                postings = [(vid, w, self.variants[vid].spellings.get(t)) for vid in list(tallies)
                            if (w := self.variants[vid].weights.get(t)) is not None]
            for vid, w, spelled in postings:
                if forms is not None and spelled is not None and not fits(forms, spelled):
                    continue  # written with other diacritics: another word ("số" is not "sổ")
                tally = tallies.get(vid)
                if tally is None:
                    if only_known:
                        continue
                    tally = tallies[vid] = Tally()
                tally.name_weight += w  # inline, not a method: this loop runs per shared word and name
                tally.message_weight += q
                if is_soft:
                    tally.filler_weight += q
                    tally.evidence += w * SOFT_EVIDENCE
                    tally.filler_hits += 1
                else:
                    tally.content_hits += 1
                    tally.evidence += w
                    tally.implied_hits += implied
        written_seq = [t for t in toks if not t.implied]
        qbigrams = {(a.text, b.text) for a, b in pairwise(written_seq)
                    if a.text != b.text and (a.text, b.text) in self._bigram_postings}
        qbigram_weight = sum((self.idf[a] + self.idf[b]) / 2 for a, b in qbigrams)
        matched_b: dict[int, float] = defaultdict(float)
        matched_bq: dict[int, float] = defaultdict(float)
        for bg in qbigrams:
            q = (self.idf[bg[0]] + self.idf[bg[1]]) / 2
            for vid, w in self._bigram_postings[bg]:
                matched_b[vid] += w
                matched_bq[vid] += q
        qseq = tuple(t.text for t in written_seq)
        n_hard = len(hard)
        variants = self.variants
        top: dict[int, tuple[float, int, float, bool, bool]] = {}  # entry -> its best-scoring name
        support: dict[int, tuple[float, float]] = {}  # entry -> best (evidence, words matched) of its names
        for vid, tally in tallies.items():
            v = variants[vid]
            hits, mq, sq = tally.content_hits, tally.message_weight, tally.filler_weight
            cover_v = tally.name_weight / v.total
            if cover_v < MIN_NAME_COVER:
                continue  # hardly any of the name (an exact match covers all of it)
            complete = hits == n_hard
            if hits - tally.implied_hits == n_hard - len(implied_only) and v.token_set <= alltoks:
                # the message holds exactly this name or alias, filler aside; of two such names the one
                # that also uses more of the message's filler-like words ("chưa", "đang") wins below
                score = EXACT_SCORE
            elif not hits:
                continue  # matched by filler-like words only
            else:
                cover_q = mq / (hard_weight + sq + SOFT_MISS * (soft_weight - sq))
                order_v = matched_b[vid] / v.bigram_total if v.bigram_total else cover_v
                order_q = matched_bq[vid] / qbigram_weight if qbigram_weight else cover_q
                score = blend(cover_v, cover_q, order_v, order_q)
                if complete:
                    start = tuple(t for t in qseq if t in v.token_set)
                    if len(start) > 1 and v.tokens[:len(start)] == start:
                        score += PREFIX_BONUS  # the message is the start of the official name
                score = min(score, 0.99)
            known = top.get(v.entry)
            if known is None or score > known[0]:
                top[v.entry] = (score, vid, tally.evidence / v.total, complete, not v.markers <= alltoks)
            ev, words_matched = support.get(v.entry, (0.0, 0.0))
            support[v.entry] = (max(ev, mq - sq), max(words_matched, tally.words_found))
        best = {i: Candidate(sc, i, vid, cover, complete, special, *support[i])
                for i, (sc, vid, cover, complete, special) in top.items()}
        exact = [c for c in best.values() if c.score == EXACT_SCORE]
        if len(exact) > 1:
            used = {c.entry: len(self.variants[c.variant].token_set & soft) for c in exact}
            most = max(used.values())
            for c in exact:
                if used[c.entry] < most:
                    best[c.entry] = replace(c, score=NEAR_EXACT_SCORE)
        for i in codes:
            best[i] = Candidate(EXACT_SCORE, i, -1)
        weigh_ages(ages_in(text), self._ages, best)
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.entry))
        return ranked, toks, ws

    def _span(self, text: str, vid: int, toks: list[_Token], ws: list, entry: int) -> tuple[int, int] | None:
        if vid < 0:
            code = self.entries[entry].code
            hits = [w for w in ws if w.folded == (code,)]
            if not hits:
                return None
            return _original_span(text, hits[0].start, hits[0].end)
        vset = self._entry_words[entry]
        written = [t for t in toks if not t.implied]
        found = [k for k, t in enumerate(written) if t.text in vset]
        if not found:
            return None
        # around the matched content words, plus matched filler-like words right next to them ("đăng ký")
        core = [k for k in found if not written[k].soft] or found
        first, last = min(core), max(core)
        while first - 1 in found:
            first -= 1
        while last + 1 in found:
            last += 1
        return _original_span(text, ws[written[first].word].start, ws[written[last].word].end)

    def _matches(self, text: str, ranked: list[Candidate], toks: list[_Token], ws: list,
                 limit: int) -> list[Match]:
        out = []
        for c in ranked[:limit]:
            e = self.entries[c.entry]
            span = self._span(text, c.variant, toks, ws, c.entry)
            out.append(Match(e.code, e.name, e.short_name, round(c.score, 3),
                             span[0] if span else None, span[1] if span else None))
        return out

    def search(self, text: str, limit: int = 5) -> list[Match]:
        """Ranked candidates (score 0..1, at least MIN_SCORE), best first."""
        ranked, toks, ws = self._rank(text)
        ranked = [c for c in ranked if c.score >= MIN_SCORE]
        return self._matches(text, ranked, toks, ws, max(0, limit))

    def link(self, text: str) -> Match | None:
        """The procedure the text clearly means, or None when there is none or it is ambiguous."""
        ranked, toks, ws = self._rank(text)
        return self._matches(text, ranked, toks, ws, 1)[0] if clear_link(ranked) else None


def _looks_like_noise(ws: Sequence[Word]) -> bool:
    """Random bytes or foreign script: most "words" are single characters or not Vietnamese letters."""
    if len(ws) < NOISE_MIN_WORDS:
        return False
    odd = sum(1 for w in ws if len(w.text) == 1 or not "".join(w.folded).isascii())
    return odd > len(ws) * NOISE_SHARE


def _original_span(original: str, start: int, end: int) -> tuple[int, int]:
    """Map a span of clean(original) (NFC) back to `original`, which may be NFD."""
    nfc = unicodedata.normalize("NFC", original)
    if len(nfc) == len(original):
        return start, end
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(original):
        j = i + 1
        while j < len(original) and unicodedata.combining(original[j]):
            j += 1
        piece = unicodedata.normalize("NFC", original[i:j])
        starts += [i] * len(piece)
        ends += [j] * len(piece)
        i = j
    if len(starts) != len(nfc) or not starts:
        return max(0, min(start, len(original))), max(0, min(end, len(original)))
    return starts[min(start, len(starts) - 1)], ends[max(0, min(end, len(ends)) - 1)]
