"""Procedure matching: which catalogue procedure does a chat message mean?

Used by the Rasa procedure linker (inside the Rasa server: standard library + PyYAML only, no `bot`
imports, Python 3.10) and by `motcua catalog search`, so both answer the same way.

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

import json
import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import yaml

from nlu.text import Word, clean, fold, fold_word, words

AGE_IN_TEXT = re.compile(r"\b(?:(duoi|tren|tu du|tu) )?(\d{1,3}) tuoi\b")
AGE_UNDER = re.compile(r"\bduoi (\d{1,3}) tuoi\b")
AGE_FROM = re.compile(r"\btu (?:du )?(\d{1,3}) tuoi\b")
AGE_FIT_BONUS = 0.15
AGE_MISFIT = 0.5


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

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
RULES_FILE = "matching.yml"

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

# When link() answers
LINK_MIN_SCORE = 0.5
LINK_MIN_MARGIN = 0.06  # over the runner-up
LINK_NEAR_MARGIN = 0.03  # enough when only the top explains every word or the runner-up is a variant
LINK_COVER_RATIO = 0.85  # runner-up covers clearly less of its name: it carries words of its own
LINK_MIN_NAME_COVER = 0.45  # without a rare word, most of the name must be there ...
LINK_MIN_EVIDENCE = 6.0  # ... or content words of this summed IDF (about two rare words)
_LEADING_THU_TUC = re.compile(r"^\s*thủ\s+tục\s+", re.IGNORECASE)
_PARENS = re.compile(r"\([^()]*\)")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook, dot below
Spelling = tuple[tuple[str, ...], str]  # per letter its shape marks, and the tone mark


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
                          spelling=_spelling(ws[owner[k]], False))
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
                              _spelling(ws[owner[k]], True)))
        return out, ws


def _spelling(word: Word, exact: bool) -> Spelling | None:
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
def _fits(written: frozenset[Spelling], name: frozenset[Spelling]) -> bool:
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


def _confusions(word: str, rules: Rules) -> set[str]:
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


@dataclass(frozen=True)
class _Candidate:
    score: float
    entry: int
    variant: int  # -1: the message holds the procedure code itself
    name_cover: float = 1.0  # share of the variant's weighted words the message has (filler-like at half)
    complete: bool = True  # every content word of the message is in the variant
    special: bool = False  # the variant has a variant-marker word the message lacks
    evidence: float = 0.0  # summed rarity (IDF) of the message's content words found in its best name
    hits: float = 0.0  # how many of the message's words its best name has (filler-like ones count half)


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
                for d in _deletes(t):
                    self._typo[d].add(t)
        self._last: tuple[str, tuple[list[_Candidate], list[_Token], list[Word]]] | None = None
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
        options = [c for c in _confusions(tok, self.rules) if c in self.idf]
        if not options and not written and tok not in self.idf and len(tok) >= TYPO_MIN_LEN:
            pool: set[str] = set(self._typo.get(tok, ()))
            for d in _deletes(tok):
                if d in self.idf:
                    pool.add(d)
                pool.update(self._typo.get(d, ()))
            options = [c for c in pool if _osa_distance_le1(tok, c)]
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

    def _rank(self, text: str) -> tuple[list[_Candidate], list[_Token], list]:
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

    def _score(self, text: str) -> tuple[list[_Candidate], list[_Token], list]:
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
        # per candidate variant: [name weight matched, message weight matched, of it filler-like,
        #                         content words matched, evidence weight in the name, of the content words
        #                         matched those only implied, filler-like words matched]
        acc: dict[int, list[float]] = {}
        for t in sorted(hard) + sorted(soft):  # content words first: they decide who is a candidate
            q = qweight[t]
            is_soft = t in soft
            forms = written.get(t)
            postings = self._postings.get(t, ())
            only_known = is_soft and bool(hard)
            if only_known and len(postings) > len(acc):
                # a filler-like word only adds to candidates found by content words: look it up in them
                postings = [(vid, w, self.variants[vid].spellings.get(t)) for vid in list(acc)
                            if (w := self.variants[vid].weights.get(t)) is not None]
            for vid, w, spelled in postings:
                if forms is not None and spelled is not None and not _fits(forms, spelled):
                    continue  # written with other diacritics: another word ("số" is not "sổ")
                a = acc.get(vid)
                if a is None:
                    if only_known:
                        continue
                    a = acc[vid] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
                a[0] += w
                a[1] += q
                if is_soft:
                    a[2] += q
                    a[4] += w * SOFT_EVIDENCE
                    a[6] += 1
                else:
                    a[3] += 1
                    a[4] += w
                    if t in implied_only:
                        a[5] += 1
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
        for vid, (mv, mq, sq, hits, hv, implied_hits, soft_hits) in acc.items():
            v = variants[vid]
            cover_v = mv / v.total
            if cover_v < MIN_NAME_COVER:
                continue  # hardly any of the name (an exact match covers all of it)
            complete = hits == n_hard
            if hits - implied_hits == n_hard - len(implied_only) and v.token_set <= alltoks:
                # the message holds exactly this name or alias, filler aside; of two such names the one
                # that also uses more of the message's filler-like words ("chưa", "đang") wins below
                score = EXACT_SCORE
            elif not hits:
                continue  # matched by filler-like words only
            else:
                cover_q = mq / (hard_weight + sq + SOFT_MISS * (soft_weight - sq))
                order_v = matched_b[vid] / v.bigram_total if v.bigram_total else cover_v
                order_q = matched_bq[vid] / qbigram_weight if qbigram_weight else cover_q
                score = W_NAME * cover_v + W_QUERY * cover_q + W_ORDER * (order_v + order_q) / 2
                if complete:
                    start = tuple(t for t in qseq if t in v.token_set)
                    if len(start) > 1 and v.tokens[:len(start)] == start:
                        score += PREFIX_BONUS  # the message is the start of the official name
                score = min(score, 0.99)
            known = top.get(v.entry)
            if known is None or score > known[0]:
                top[v.entry] = (score, vid, hv / v.total, complete, not v.markers <= alltoks)
            ev, words_matched = support.get(v.entry, (0.0, 0.0))
            support[v.entry] = (max(ev, mq - sq), max(words_matched, hits + SOFT_EVIDENCE * soft_hits))
        best = {i: _Candidate(sc, i, vid, cover, complete, special, *support[i])
                for i, (sc, vid, cover, complete, special) in top.items()}
        exact = [c for c in best.values() if c.score == EXACT_SCORE]
        if len(exact) > 1:
            used = {c.entry: len(self.variants[c.variant].token_set & soft) for c in exact}
            most = max(used.values())
            for c in exact:
                if used[c.entry] < most:
                    best[c.entry] = replace(c, score=NEAR_EXACT_SCORE)
        for i in codes:
            best[i] = _Candidate(EXACT_SCORE, i, -1)
        self._weigh_ages(text, best)
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.entry))
        return ranked, toks, ws

    def _weigh_ages(self, text: str, best: dict[int, _Candidate]) -> None:
        """Names that hold an age condition ("dưới 14 tuổi", "từ đủ 14 tuổi trở lên") win when the
        message gives an age that fits, and lose when it gives one that does not."""
        ages = ages_in(text)
        if not ages:
            return
        fit = {i: all(b[0] <= a <= b[1] for a in ages) for i in best if (b := self._ages.get(i)) is not None}
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

    def _matches(self, text: str, ranked: list[_Candidate], toks: list[_Token], ws: list,
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
        if not ranked or ranked[0].score < LINK_MIN_SCORE:
            return None
        top = ranked[0]
        second = ranked[1] if len(ranked) > 1 else _Candidate(0.0, -1, -1, 0.0, False)
        margin = top.score - second.score
        if top.score >= EXACT_SCORE:
            clear = second.score < EXACT_SCORE  # the message names exactly one procedure
        elif top.evidence < LINK_MIN_EVIDENCE and (top.name_cover < LINK_MIN_NAME_COVER or top.hits < 2):
            clear = False  # one word, or a common word or two, shared with a name is no evidence
        else:
            clear = margin >= LINK_MIN_MARGIN or (
                # close scores, but the runner-up lacks a word of the message or is a special variant
                # (it carries a marker word the message lacks) while the top is not
                margin >= LINK_NEAR_MARGIN and not top.special
                and ((top.complete and (not second.complete
                                        or second.name_cover <= top.name_cover * LINK_COVER_RATIO))
                     or second.special)
            )
        return self._matches(text, ranked, toks, ws, 1)[0] if clear else None


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
