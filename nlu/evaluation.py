"""Evaluate the NLU server on a labelled file: intents, procedures, and how both hold up by style.

The held-out file (tests/nlu/heldout.yml) is a YAML list of {text, intent, procedure, style}.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.client import Parse
from nlu.text import strip_diacritics

NO_PROCEDURE = "-"


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    procedure: str | None
    style: str


@dataclass
class Scores:
    """Outcome of one evaluation run."""

    n: int = 0
    intent_correct: int = 0
    procedure_n: int = 0
    procedure_correct: int = 0
    false_links: int = 0  # a procedure linked where none was named
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_style: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return self.intent_correct / self.n if self.n else 0.0

    @property
    def procedure_accuracy(self) -> float:
        return self.procedure_correct / self.procedure_n if self.procedure_n else 0.0

    def per_intent(self) -> dict[str, tuple[float, float, float, int]]:
        """precision, recall, F1 and support of each gold intent."""
        out: dict[str, tuple[float, float, float, int]] = {}
        for intent in sorted(set(self.gold) | set(self.predicted)):
            tp = sum(1 for g, p in zip(self.gold, self.predicted, strict=True) if g == p == intent)
            fp = sum(1 for g, p in zip(self.gold, self.predicted, strict=True) if p == intent and g != intent)
            fn = sum(1 for g, p in zip(self.gold, self.predicted, strict=True) if g == intent and p != intent)
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out[intent] = (precision, recall, f1, tp + fn)
        return out

    @property
    def macro_f1(self) -> float:
        rows = [r for r in self.per_intent().values() if r[3] > 0]
        return sum(r[2] for r in rows) / len(rows) if rows else 0.0


def load_examples(path: Path) -> list[Example]:
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [
        Example(str(i["text"]), str(i["intent"]), i.get("procedure") or None, str(i.get("style") or "mixed"))
        for i in items
    ]


def stripped(examples: Iterable[Example]) -> list[Example]:
    """The same examples with every diacritic removed (the ≥ 93 % target)."""
    return [Example(strip_diacritics(e.text), e.intent, e.procedure, e.style) for e in examples]


def evaluate(examples: Iterable[Example], parse: Callable[[str], Parse]) -> Scores:
    scores = Scores()
    for ex in examples:
        result = parse(ex.text)
        ok_intent = result.intent == ex.intent
        scores.n += 1
        scores.intent_correct += ok_intent
        scores.gold.append(ex.intent)
        scores.predicted.append(result.intent)
        if not ok_intent:
            scores.confusion[(ex.intent, result.intent)] += 1
        style = scores.by_style[ex.style]
        style[0] += 1
        style[1] += ok_intent
        if ex.procedure:
            ok_proc = result.procedure == ex.procedure
            scores.procedure_n += 1
            scores.procedure_correct += ok_proc
            style[2] += 1
            style[3] += ok_proc
        elif result.procedure:
            scores.false_links += 1
    return scores


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def report(title: str, scores: Scores, *, top_confusions: int = 10) -> str:
    """Markdown report: totals, per-style split, per-intent table, most confused pairs."""
    lines = [
        f"## {title}",
        "",
        f"- examples: {scores.n}",
        f"- intent accuracy: {pct(scores.intent_accuracy)} ({scores.intent_correct}/{scores.n})",
        f"- intent macro-F1: {scores.macro_f1:.3f}",
        f"- procedure accuracy: {pct(scores.procedure_accuracy)} "
        f"({scores.procedure_correct}/{scores.procedure_n} examples naming a procedure)",
        f"- procedure linked where none was named: {scores.false_links}",
        "",
        "| style | examples | intent accuracy | procedure accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for style, (n, ok, pn, pok) in sorted(scores.by_style.items()):
        proc = pct(pok / pn) if pn else "–"
        lines.append(f"| {style} | {n} | {pct(ok / n) if n else '–'} | {proc} |")
    lines += ["", "| intent | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for intent, (p, r, f1, support) in scores.per_intent().items():
        lines.append(f"| {intent} | {p:.2f} | {r:.2f} | {f1:.2f} | {support} |")
    lines += ["", "Most confused (gold → predicted):", ""]
    confusions = scores.confusion.most_common(top_confusions)
    lines += [f"- {g} → {p}: {c}" for (g, p), c in confusions] or ["- none"]
    return "\n".join(lines) + "\n"
