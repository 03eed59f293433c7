"""Where, how much, how long: the competent agency and the figures a citizen gets, measured (not a test).

    RASA_URL=http://127.0.0.1:5999 .venv/bin/python benchmarks/agencies.py [--sample N] [--show-failures]

(a) Procedures per kind: how many of the 588 catalogue procedures this centre takes through the bot, in person
    only, or leaves to another agency, by competent agency (data/catalog/agencies.yml + data/agency.yml).
(b) The question set tests/catalog/agency_questions.yml (≥ 60 procedures, ≥ 20 of other agencies; "ở đâu",
    "bao nhiêu tiền", "bao lâu", with and without diacritics) sent one message per fresh conversation through
    the real NLU server and the real dialogue (bot.turn.take_turn on a temporary SQLite database). A question
    counts as right when the text the citizen gets names the right agency (the centre's name for procedures
    this centre receives; the other agency's name, and never the centre as the place to submit, for the
    rest) and contains every expected figure. Prints the shares, overall and by question kind and route.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "tests" / "catalog" / "agency_questions.yml"
# Phrases that would send a citizen to this centre for another agency's procedure.
WRONG_PLACE = ("nộp tại Trung tâm", "nộp trực tiếp tại Trung tâm", "mang hồ sơ đến Trung tâm",
               "Nơi tiếp nhận: Trung tâm")


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def judge(entry: dict[str, Any], question: dict[str, Any], said: str, centre: str) -> tuple[bool, str]:
    """(right, why not): the agency named as gold says, every figure present, no wrong place."""
    agency = entry["agency"].replace("{centre}", centre)
    if agency not in said:
        return False, f"agency {agency!r} not named"
    if entry["route"] == "other_agency" and any(p in said for p in WRONG_PLACE):
        return False, "sends the citizen to the centre"
    # Case-blind: "Trong ngày" opens a line where the gold says "trong ngày".
    missing = [f for f in question["figures"] if f.lower() not in said.lower()]
    if missing:
        return False, f"figures missing {missing}"
    return True, ""


def per_kind() -> None:
    from bot.agency import Agency
    from bot.catalog.importer import KIND_LABELS
    from bot.catalog.routing import route
    from bot.catalog.store import Catalog

    agency = Agency.load()
    counts: dict[str, Counter[str]] = {}
    for p in Catalog.load().all():
        counts.setdefault(p.agency_kind, Counter())[route(p, agency)] += 1
    print(f"(a) procedures per kind (hosted desks: {', '.join(sorted(agency.hosted_desks)) or 'none'})")
    print(f"    {'competent agency':28} {'all':>5} {'bot':>5} {'in person':>10} {'other agency':>13}")
    total: Counter[str] = Counter()
    for kind, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
        total.update(c)
        print(f"    {KIND_LABELS[kind]:28} {sum(c.values()):5} {c['bot']:5} {c['in_person']:10} "
              f"{c['other_agency']:13}")
    print(f"    {'all':28} {sum(total.values()):5} {total['bot']:5} {total['in_person']:10} "
          f"{total['other_agency']:13}")


def run_questions(rasa_url: str, sample: int | None, show: bool) -> float:
    from bot.agency import Agency
    from bot.config import Settings
    from bot.db import upgrade
    from bot.messages import Inbound
    from bot.services import Services
    from bot.turn import take_turn

    entries = load_questions()
    cases = [(e, q) for e in entries for q in e["questions"]]
    if sample:
        cases = random.Random(14).sample(cases, min(sample, len(cases)))
    tmp = Path(tempfile.mkdtemp(prefix="motcua-agencies-"))
    settings = Settings.load(database_url=f"sqlite:///{tmp / 'bench.db'}", files_dir=tmp / "files",
                             secret_key="bench", embedded_workers=False, rasa_url=rasa_url)
    services = Services.build(settings)
    upgrade(services.engine)
    centre = Agency.load().name
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # a weekday morning at the centre
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    failures = []
    try:
        for n, (entry, question) in enumerate(cases):
            replies = take_turn(services, Inbound("web", f"asker-{n}", "text", text=question["text"]),
                                now=now + timedelta(seconds=n))
            said = "\n".join(r.text for r in replies)
            ok, why = judge(entry, question, said, centre)
            accents = "accented" if question["text"] != _plain(question["text"]) else "unaccented"
            for key in ("all", question["ask"], entry["route"], accents):
                seen[key] += 1
                right[key] += ok
            if not ok:
                failures.append((entry["code"], question["text"], why, said[:300]))
    finally:
        services.engine.dispose()
    procedures = {e["code"] for e, _ in cases}
    others = {e["code"] for e, _ in cases if e["route"] == "other_agency"}
    print(f"(b) question set: {seen['all']} questions on {len(procedures)} procedures "
          f"({len(others)} of other agencies), real NLU at {rasa_url}")
    keys = ("all", "where", "fee", "duration", "bot", "in_person", "other_agency", "accented", "unaccented")
    for key in keys:
        if seen[key]:
            print(f"    {key:13} right agency and figure: {right[key]}/{seen[key]} = "
                  f"{100.0 * right[key] / seen[key]:.1f} %")
    if show:
        for code, asked, why, said in failures:
            print(f"  ✗ {code} “{asked}”: {why}\n      {said!r}")
    return right["all"] / seen["all"] if seen["all"] else 0.0


def _plain(value: str) -> str:
    from nlu.text import strip_diacritics

    return strip_diacritics(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    ap.add_argument("--sample", type=int, default=None, help="only N random questions")
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    per_kind()
    run_questions(args.rasa_url, args.sample, args.show_failures)


if __name__ == "__main__":
    main()
