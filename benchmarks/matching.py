"""Procedure matcher (nlu/matching.py and the modules it uses), measured and printed (not a test):

- index build time over the catalogue (imported procedures, or the raw portal files before the import);
- latency of one message (search + link, as the Rasa linker calls them): p50 / p95 / mean over a few
  hundred chat-like messages;
- accuracy on the matcher's own test messages (tests/nlu/matching_cases.yml) and procedure accuracy of
  link() on the NLU held-out set (tests/nlu/heldout.yml), as written and without diacritics;
- how many procedures are linkable by their short name (with and without diacritics), and which share
  practically the same name.

Usage: .venv/bin/python benchmarks/matching.py [--raw]   (--raw: official names only, no catalogue/aliases)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu.matching import DEFAULT_DATA_DIR, RULES_FILE, ProcedureIndex, Rules, load_entries  # noqa: E402
from nlu.procedures import default_raw_dir  # noqa: E402
from nlu.text import fold, strip_diacritics  # noqa: E402

CASES = ROOT / "tests" / "nlu" / "matching_cases.yml"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
PREFIXES = ["", "cho em hỏi ", "e muốn làm ", "thủ tục ", "ad ơi ", "cho mình hỏi về "]
SUFFIXES = ["", " cần gì ạ", " mất bao lâu", " bao nhiêu tiền vậy", " nộp ở đâu", " với ạ"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def chat_messages(index: ProcedureIndex, n: int) -> list[str]:
    """Chat-like messages around short names, some without diacritics, plus filler-only ones."""
    rng = random.Random(7)
    out = []
    for _ in range(n):
        e = rng.choice(index.entries)
        text = rng.choice(PREFIXES) + e.short_name.lower() + rng.choice(SUFFIXES)
        out.append(strip_diacritics(text) if rng.random() < 0.4 else text)
    out += ["xin chào ạ", "cảm ơn em", "ok", "hồ sơ của em đến đâu rồi", "em muốn gặp cán bộ"] * 4
    return out


def latency(index: ProcedureIndex, messages: list[str], clock: Callable[[], float] = time.perf_counter,
            ) -> list[float]:
    """Milliseconds per message; `clock` time.process_time counts only this process's CPU time, which is
    steadier than wall time on a machine shared with other jobs."""
    times = []
    for text in messages:
        start = clock()
        index.search(text, limit=3)
        index.link(text)
        times.append((clock() - start) * 1000)
    return times


def own_cases(index: ProcedureIndex) -> tuple[int, int]:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    ok = total = 0
    for query, code in cases["link"]:
        total += 1
        m = index.link(query)
        ok += m is not None and m.code == code
    for query, code in cases["top1"]:
        total += 1
        found = index.search(query, limit=1)
        ok += bool(found) and found[0].code == code
    for query, codes in cases["ambiguous"] + cases["top3"]:
        total += 1
        top3 = {m.code for m in index.search(query, limit=3)}
        ok += set(codes) <= top3
    for query in cases["nothing"]:
        total += 1
        ok += not index.search(query) and index.link(query) is None
    return ok, total


def heldout(index: ProcedureIndex, strip: bool) -> dict[str, int]:
    items = yaml.safe_load(HELDOUT.read_text(encoding="utf-8")) or []
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        text = strip_diacritics(item["text"]) if strip else item["text"]
        gold = item.get("procedure")
        m = index.link(text)
        if gold:
            counts["n"] += 1
            if m is not None and m.code == gold:
                counts["correct"] += 1
            elif m is None:
                counts["no_link"] += 1
                counts["in_top3"] += gold in {c.code for c in index.search(text, limit=3)}
            else:
                counts["wrong"] += 1
        else:
            counts["null"] += 1
            counts["false_link"] += m is not None
    return counts


def linkable(index: ProcedureIndex) -> tuple[int, int, list[list[str]]]:
    """Procedures whose short name links (with and without diacritics); groups sharing a short name."""
    groups: dict[str, list[str]] = defaultdict(list)
    for e in index.entries:
        groups[fold(e.short_name)].append(e.code)
    ok = 0
    for e in index.entries:
        if len(groups[fold(e.short_name)]) > 1:
            continue
        texts = (e.short_name, fold(e.short_name))
        ok += all((m := index.link(t)) is not None and m.code == e.code for t in texts)
    unique = sum(1 for g in groups.values() if len(g) == 1)
    return ok, unique, sorted(g for g in groups.values() if len(g) > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", action="store_true", help="official names only (no catalogue, no aliases)")
    args = parser.parse_args()
    rules = Rules.load(DEFAULT_DATA_DIR / RULES_FILE)
    with tempfile.TemporaryDirectory() as empty:
        data_dir = Path(empty) if args.raw else DEFAULT_DATA_DIR
        start = time.perf_counter()
        index = ProcedureIndex(load_entries(data_dir, default_raw_dir(DEFAULT_DATA_DIR)), rules)
        build = time.perf_counter() - start
    aliases = sum(len(e.aliases) for e in index.entries)
    print(f"source: {'raw portal names' if args.raw else 'catalogue'}; {len(index)} procedures, "
          f"{len(index.variants)} names/aliases ({aliases} aliases); index built in {build * 1000:.0f} ms")

    messages = chat_messages(index, 400)
    latency(index, messages[:50])  # warm-up
    for label, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        times = latency(index, messages, clock)
        print(f"latency per message (search + link, {label} time), {len(times)} messages: "
              f"p50 {percentile(times, 0.5):.2f} ms, p95 {percentile(times, 0.95):.2f} ms, "
              f"mean {statistics.mean(times):.2f} ms, max {max(times):.2f} ms")
    long_texts = [f"{i} " + "em muốn hỏi về đăng ký kết hôn ạ " * 150 for i in range(5)]
    t = latency(index, long_texts)
    print(f"latency, 5,000-character message: {statistics.median(t):.2f} ms")

    ok, total = own_cases(index)
    print(f"own test messages (tests/nlu/matching_cases.yml): {ok}/{total} = {ok / total:.1%}")
    for strip in (False, True):
        c = heldout(index, strip)
        label = "without diacritics" if strip else "as written"
        print(f"held-out NLU set, {label}: link correct {c['correct']}/{c['n']} = "
              f"{c['correct'] / c['n']:.1%}; no link {c['no_link']} (right one in top 3: {c['in_top3']}); "
              f"wrong link {c['wrong']}; "
              f"false link on {c['false_link']}/{c['null']} messages without a procedure")

    ok, unique, shared = linkable(index)
    print(f"linkable by short name (as written and folded): {ok}/{unique} procedures with a unique short "
          f"name; {sum(len(g) for g in shared)} procedures in {len(shared)} groups share a short name:")
    for group in shared:
        e = index.entry(group[0])
        print(f"  {', '.join(group)}: {e.short_name if e else ''}")


if __name__ == "__main__":
    main()
