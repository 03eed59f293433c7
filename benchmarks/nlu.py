"""NLU targets, measured in one run and printed (not a test):

- held-out intent and procedure accuracy, as written and with all diacritics stripped,
  ours against Rasa's recommended default pipeline trained on the same data;
- parse latency through the app's NLU client (p50, p95);
- training time of our pipeline from scratch;
- bad input (empty, 5,000 characters, emoji, control characters, random bytes) answered as valid JSON.

Usage: .venv/bin/python benchmarks/nlu.py [--skip-training-time]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu import server  # noqa: E402
from nlu.client import NLUClient  # noqa: E402
from nlu.evaluation import Scores, evaluate, load_examples, pct, stripped  # noqa: E402
from nlu.training import train  # noqa: E402

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
BASELINE_MODEL = ROOT / "models" / "baseline.tar.gz"
BAD_INPUTS = ["", " ", "x" * 5000, "😀🙏🎉", "\x00\x01\x02\x7f\u200b", os.urandom(200).decode("latin-1"),
              "đăng ký khai sinh " * 300]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def accuracy_rows(name: str, url: str) -> tuple[Scores, Scores]:
    client = NLUClient(url, timeout=30)
    examples = load_examples(HELDOUT)
    return evaluate(examples, client.parse), evaluate(stripped(examples), client.parse)


def latency(url: str, n: int = 400) -> tuple[float, float]:
    client = NLUClient(url)
    texts = [e.text for e in load_examples(HELDOUT)]
    for t in texts[:20]:
        client.parse(t)  # warm-up
    times = []
    for i in range(n):
        started = time.perf_counter()
        client.parse(texts[i % len(texts)])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 0.95)


def bad_input(url: str) -> tuple[int, int]:
    client = NLUClient(url)
    ok = sum(1 for text in BAD_INPUTS if client.parse(text).intent)
    return ok, len(BAD_INPUTS)


def training_time() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        train(str(server.RASA), Path(tmp) / "fresh.tar.gz", force=True)
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-training-time", action="store_true")
    args = parser.parse_args()
    train(str(server.RASA), server.MODEL)
    train(str(server.RASA), BASELINE_MODEL, config="benchmarks/baseline-config.yml")
    results = {}
    with server.running(server.MODEL) as ours_url:
        results["ours"] = accuracy_rows("ours", ours_url)
        p50, p95 = latency(ours_url)
        bad_ok, bad_n = bad_input(ours_url)
    with server.running(BASELINE_MODEL) as base_url:
        results["baseline"] = accuracy_rows("baseline", base_url)
    n = results["ours"][0].n
    print(f"\nHeld-out set: {n} messages ({HELDOUT.relative_to(ROOT)}), never trained on\n")
    print("| pipeline | intent acc. | intent macro-F1 | procedure acc. | intent acc., no diacritics "
          "| procedure acc., no diacritics |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (written, plain) in results.items():
        print(f"| {name} | {pct(written.intent_accuracy)} | {written.macro_f1:.3f} "
              f"| {pct(written.procedure_accuracy)} | {pct(plain.intent_accuracy)} "
              f"| {pct(plain.procedure_accuracy)} |")
    print(f"\nParse latency through the app's NLU client (400 parses): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"Bad input answered with a valid parse: {bad_ok}/{bad_n}")
    if not args.skip_training_time:
        print(f"Training from scratch: {training_time():.0f} s on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
