"""Procedure matching: which catalogue procedure does a chat message mean?

Used by the Rasa procedure linker (inside the Rasa server: standard library + PyYAML only, no `bot`
imports, Python 3.10) and by `motcua catalog search`, so both answer the same way.

Every name, short name and alias becomes a *variant*: its folded words (nlu.text.words: no diacritics,
abbreviations expanded) minus chat filler (data/matching.yml), weighted by how rare they are in the
catalogue (IDF). A message is scored against each variant found through an inverted index by
- how much of the variant the message covers (missing words that mark a special variant, such as
  "lại" or "nước ngoài", cost more, words in parentheses less), so generic questions find the base
  procedure;
- how much of the message the variant explains (filler that also occurs in names, like "làm" or "cần",
  only counts where it matches);
- how many of the variant's word pairs appear in the same order.
A message holding exactly a variant's words scores 1. `link` answers only when the best match is clear;
otherwise the caller offers the top three.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.text import clean, fold_word, words

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
RULES_FILE = "matching.yml"

MAX_QUERY_WORDS = 400  # a chat message longer than this is cut; procedure names are far shorter
MIN_SCORE = 0.3  # search() drops weaker candidates
LINK_MIN_SCORE = 0.6
LINK_MIN_MARGIN = 0.08
MARKER_FACTOR = 2.0  # weight of a variant-marker word that the message lacks
MINOR_FACTOR = 0.35  # weight of a word in parentheses ("(thực hiện tại cấp xã)")
W_NAME, W_QUERY, W_ORDER = 0.5, 0.3, 0.2
TYPO_MIN_LEN = 4
_LEADING_THU_TUC = re.compile(r"^\s*thủ\s+tục\s+", re.IGNORECASE)
_PARENS = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Entry:
    """One catalogue procedure as far as matching needs it."""

    code: str
    name: str
    short_name: str
    field: str = ""
    levels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Rules:
    """Filler and variant-marker lists from data/matching.yml."""

    stop_phrases: tuple[tuple[str, ...], ...] = ()
    stopwords: frozenset[str] = frozenset()
    soft_words: frozenset[str] = frozenset()
    variant_markers: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def load(cls, path: Path) -> Rules:
        if not path.is_file():
            log.warning("matching rules missing: %s", path)
            return cls()
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

        def phrases(key: str) -> tuple[tuple[str, ...], ...]:
            items = {tuple(fold_word(str(p)).split()) for p in raw.get(key) or ()}
            return tuple(sorted((p for p in items if p), key=len, reverse=True))

        return cls(
            stop_phrases=phrases("stop_phrases"),
            stopwords=frozenset(fold_word(str(w)) for w in raw.get("stopwords") or ()),
            soft_words=frozenset(fold_word(str(w)) for w in raw.get("soft_words") or ()),
            variant_markers=phrases("variant_markers"),
        )


# ---------------------------------------------------------------------------------------------------
# Loading the catalogue


def default_raw_dir(data_dir: Path) -> Path:
    """The portal files next to the repository: <repo>/../shared/catalog/raw."""
    return data_dir.resolve().parent.parent / "shared" / "catalog" / "raw"


def tidy_name(name: str) -> str:
    """Official name without the portal's leading "Thủ tục", line breaks, double spaces, trailing ':'."""
    text = " ".join(unicodedata.normalize("NFC", name or "").split())
    text = _LEADING_THU_TUC.sub("", text).strip(" .:;")
    return text[:1].upper() + text[1:]


def _levels(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, Iterable):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("catalogue file unreadable: %s (%s)", path.name, type(exc).__name__)
        return None
    return data if isinstance(data, dict) else None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("catalogue file unreadable: %s (%s)", path.name, type(exc).__name__)
        return None


def _from_procedures(folder: Path) -> list[Entry]:
    out = []
    for path in sorted(folder.glob("*.json")):
        d = _read_json(path)
        if not d or not d.get("code") or not d.get("name"):
            continue
        name = tidy_name(str(d["name"]))
        out.append(Entry(
            code=str(d["code"]),
            name=name,
            short_name=str(d.get("short_name") or name).strip(),
            field=str(d.get("field") or ""),
            levels=_levels(d.get("levels")),
        ))
    return out


def _from_raw(folder: Path) -> list[Entry]:
    out = []
    for path in sorted(folder.glob("*.json")):
        d = _read_json(path)
        if not d or not d.get("ma_thu_tuc") or not d.get("ten_thu_tuc"):
            continue
        name = tidy_name(str(d["ten_thu_tuc"]))
        out.append(Entry(
            code=str(d["ma_thu_tuc"]).strip(),
            name=name,
            short_name=name,
            field=" ".join(str(d.get("linh_vuc") or "").split()),
            levels=_levels(d.get("cap_thuc_hien")),
        ))
    return out


def _str_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def load_entries(data_dir: Path, raw_dir: Path | None = None) -> list[Entry]:
    """The catalogue: data/catalog/procedures/*.json when imported, else the raw portal files;
    then aliases and short names from data/catalog/curated/*.yml and data/catalog/aliases.yml."""
    catalog = data_dir / "catalog"
    procedures = catalog / "procedures"
    entries = _from_procedures(procedures) if procedures.is_dir() else []
    if not entries:
        entries = _from_raw(raw_dir or default_raw_dir(data_dir))
    aliases: dict[str, list[str]] = defaultdict(list)
    short: dict[str, str] = {}
    curated = catalog / "curated"
    for path in sorted(curated.glob("*.yml")) if curated.is_dir() else ():
        d = _read_yaml(path)
        if not isinstance(d, dict):
            continue
        code = str(d.get("code") or path.stem)
        aliases[code] += _str_list(d.get("aliases"))
        if isinstance(d.get("short_name"), str) and d["short_name"].strip():
            short[code] = d["short_name"].strip()
    table = _read_yaml(catalog / "aliases.yml") if (catalog / "aliases.yml").is_file() else None
    if isinstance(table, dict):
        for code, values in table.items():
            aliases[str(code)] += _str_list(values)
    out = []
    for e in entries:
        extra = tuple(dict.fromkeys(a.strip() for a in (*e.aliases, *aliases.get(e.code, ())) if a.strip()))
        out.append(Entry(e.code, e.name, short.get(e.code, e.short_name), e.field, e.levels, extra))
    log.info("catalogue for matching: %d procedures, %d aliases", len(out), sum(len(e.aliases) for e in out))
    return out


# ---------------------------------------------------------------------------------------------------
# Text to weighted content tokens


@dataclass(frozen=True)
class _Token:
    text: str  # folded
    word: int  # index into the words() list, for spans
    soft: bool = False
    minor: bool = False


def _tokens(text: str, rules: Rules, minor_spans: Sequence[tuple[int, int]] = ()) -> tuple[list[_Token], list]:
    """Content tokens of `text` (filler removed) and the words() they came from."""
    ws = words(text)
    flat: list[tuple[str, int]] = [(f, i) for i, w in enumerate(ws) for f in w.folded]
    keep = [True] * len(flat)
    first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for p in rules.stop_phrases:
        first[p[0]].append(p)
    i = 0
    while i < len(flat):
        for p in first.get(flat[i][0], ()):
            if tuple(t for t, _ in flat[i:i + len(p)]) == p:
                for j in range(i, i + len(p)):
                    keep[j] = False
                i += len(p) - 1
                break
        i += 1
    out = []
    for k, (tok, wi) in enumerate(flat):
        if not keep[k] or tok in rules.stopwords:
            continue
        start = ws[wi].start
        minor = any(a <= start < b for a, b in minor_spans)
        out.append(_Token(tok, wi, tok in rules.soft_words, minor))
    return out, ws


def _first_phrase_index(rules: Rules) -> dict[str, list[tuple[str, ...]]]:
    idx: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for p in rules.variant_markers:
        idx[p[0]].append(p)
    return idx


def _osa_distance_le1(a: str, b: str) -> bool:
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


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


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


class ProcedureIndex:
    """Inverted index over every name, short name and alias of the catalogue."""

    def __init__(self, entries: Sequence[Entry], rules: Rules | None = None) -> None:
        self.entries = list(entries)
        self.rules = rules if rules is not None else Rules.load(DEFAULT_DATA_DIR / RULES_FILE)
        self._by_code = {e.code: i for i, e in enumerate(self.entries)}
        markers = _first_phrase_index(self.rules)
        raw_variants: list[tuple[int, list[_Token]]] = []
        for i, e in enumerate(self.entries):
            seen: set[tuple[str, ...]] = set()
            for text in (e.name, e.short_name, *e.aliases):
                spans = [m.span() for m in _PARENS.finditer(clean(text))]
                toks, _ = _tokens(text, self.rules, spans)
                key = tuple(t.text for t in toks)
                if toks and key not in seen:
                    seen.add(key)
                    raw_variants.append((i, toks))
        df: dict[str, int] = defaultdict(int)
        per_entry: dict[int, set[str]] = defaultdict(set)
        for i, toks in raw_variants:
            per_entry[i].update(t.text for t in toks)
        for toks in per_entry.values():
            for t in toks:
                df[t] += 1
        n = max(1, len(self.entries))
        self.idf: dict[str, float] = {t: math.log(1 + n / c) for t, c in df.items()}
        self.variants: list[_Variant] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._bigram_postings: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        self._exact: dict[frozenset[str], set[int]] = defaultdict(set)
        for i, toks in raw_variants:
            texts = [t.text for t in toks]
            marked = [False] * len(texts)
            for k, t in enumerate(texts):
                for p in markers.get(t, ()):
                    if tuple(texts[k:k + len(p)]) == p:
                        for j in range(k, k + len(p)):
                            marked[j] = True
            weights: dict[str, float] = {}
            for k, t in enumerate(toks):
                w = self.idf[t.text]
                if marked[k]:
                    w *= MARKER_FACTOR
                elif t.minor:
                    w *= MINOR_FACTOR
                weights[t.text] = max(weights.get(t.text, 0.0), w)
            bigrams: dict[tuple[str, str], float] = {}
            for a, b in zip(texts, texts[1:], strict=False):
                if a != b:
                    bigrams[(a, b)] = (weights[a] + weights[b]) / 2
            v = _Variant(i, tuple(texts), weights, sum(weights.values()), bigrams,
                         sum(bigrams.values()), frozenset(texts))
            vid = len(self.variants)
            self.variants.append(v)
            for t, w in weights.items():
                self._postings[t].append((vid, w))
            for b, w in bigrams.items():
                self._bigram_postings[b].append((vid, w))
            self._exact[v.token_set].add(vid)
        self._typo: dict[str, set[str]] = defaultdict(set)
        for t in self.idf:
            if len(t) >= TYPO_MIN_LEN and t.isalpha():
                for d in _deletes(t):
                    self._typo[d].add(t)
        log.info("procedure index: %d entries, %d variants, %d words",
                 len(self.entries), len(self.variants), len(self.idf))

    @classmethod
    def load(cls, data_dir: Path = DEFAULT_DATA_DIR, raw_dir: Path | None = None) -> ProcedureIndex:
        return cls(load_entries(data_dir, raw_dir), Rules.load(data_dir / RULES_FILE))

    def entry(self, code: str) -> Entry | None:
        i = self._by_code.get(code)
        return None if i is None else self.entries[i]

    # -- query side -------------------------------------------------------------------------------

    def _correct(self, tok: str) -> str | None:
        """A catalogue word one edit away from an unknown word of 4+ letters (the most common wins)."""
        if len(tok) < TYPO_MIN_LEN or not tok.isalpha():
            return None
        pool: set[str] = set(self._typo.get(tok, ()))
        for d in _deletes(tok):
            if d in self.idf:
                pool.add(d)
            pool.update(self._typo.get(d, ()))
        best = [c for c in pool if _osa_distance_le1(tok, c)]
        return min(best, key=lambda c: (self.idf[c], c)) if best else None

    def _query(self, text: str) -> tuple[list[_Token], list]:
        toks, ws = _tokens(text, self.rules)
        out = []
        for t in toks:
            if t.word >= MAX_QUERY_WORDS:
                break
            if t.text in self.idf:
                out.append(t)
                continue
            fixed = self._correct(t.text)
            if fixed is not None:
                out.append(_Token(fixed, t.word, fixed in self.rules.soft_words))
        return out, ws

    def _rank(self, text: str) -> tuple[list[tuple[float, int, int]], list[_Token], list]:
        """(score, entry, best variant) for every candidate, best first."""
        if not isinstance(text, str) or not text.strip():
            return [], [], []
        toks, ws = self._query(text)
        codes = [self._by_code[w.folded[0]] for w in ws[:MAX_QUERY_WORDS]
                 if len(w.folded) == 1 and w.folded[0] in self._by_code]
        if not toks and not codes:
            return [], toks, ws
        hard = {t.text for t in toks if not t.soft}
        soft = {t.text for t in toks if t.soft}
        alltoks = hard | soft
        hard_weight = sum(self.idf[t] for t in hard)
        matched_v: dict[int, float] = defaultdict(float)
        matched_q: dict[int, float] = defaultdict(float)
        soft_q: dict[int, float] = defaultdict(float)
        for t in alltoks:
            q = self.idf[t]
            is_soft = t in soft
            for vid, w in self._postings.get(t, ()):
                matched_v[vid] += w
                matched_q[vid] += q
                if is_soft:
                    soft_q[vid] += q
        qbigrams = {(a.text, b.text) for a, b in zip(toks, toks[1:], strict=False) if a.text != b.text}
        matched_b: dict[int, float] = defaultdict(float)
        for b in qbigrams:
            for vid, w in self._bigram_postings.get(b, ()):
                matched_b[vid] += w
        best: dict[int, tuple[float, int]] = {}
        for vid, mv in matched_v.items():
            v = self.variants[vid]
            if not hard and not v.token_set <= alltoks:
                continue  # only filler-like words in the message: a candidate must be matched completely
            if hard <= v.token_set and v.token_set <= alltoks:
                score = 1.0
            else:
                cover_v = mv / v.total
                cover_q = matched_q[vid] / (hard_weight + soft_q[vid])
                order = matched_b[vid] / v.bigram_total if v.bigram_total else cover_v
                score = W_NAME * cover_v + W_QUERY * cover_q + W_ORDER * order
                score = min(score, 0.99)
            if score > best.get(v.entry, (-1.0, -1))[0]:
                best[v.entry] = (score, vid)
        for i in codes:
            best[i] = (1.0, -1)
        ranked = sorted(((s, i, vid) for i, (s, vid) in best.items()), key=lambda x: (-x[0], x[1]))
        return ranked, toks, ws

    def _span(self, text: str, vid: int, toks: list[_Token], ws: list, entry: int) -> tuple[int, int] | None:
        if vid < 0:
            code = self.entries[entry].code
            hits = [w for w in ws if w.folded == (code,)]
            if not hits:
                return None
            return _original_span(text, hits[0].start, hits[0].end)
        vset = self.variants[vid].token_set
        idx = [t.word for t in toks if t.text in vset]
        if not idx:
            return None
        return _original_span(text, ws[min(idx)].start, ws[max(idx)].end)

    def _matches(self, text: str, ranked: list[tuple[float, int, int]], toks: list[_Token], ws: list,
                 limit: int) -> list[Match]:
        out = []
        for score, i, vid in ranked[:limit]:
            e = self.entries[i]
            span = self._span(text, vid, toks, ws, i)
            out.append(Match(e.code, e.name, e.short_name, round(score, 3),
                             span[0] if span else None, span[1] if span else None))
        return out

    def search(self, text: str, limit: int = 5) -> list[Match]:
        """Ranked candidates (score 0..1, at least MIN_SCORE), best first."""
        ranked, toks, ws = self._rank(text)
        ranked = [r for r in ranked if r[0] >= MIN_SCORE]
        return self._matches(text, ranked, toks, ws, max(0, limit))

    def link(self, text: str) -> Match | None:
        """The procedure the text clearly means, or None when there is none or it is ambiguous."""
        ranked, toks, ws = self._rank(text)
        if not ranked:
            return None
        top = ranked[0][0]
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        if top < LINK_MIN_SCORE or top - second < LINK_MIN_MARGIN:
            return None
        return self._matches(text, ranked, toks, ws, 1)[0]


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
