"""The NLU training data and the held-out set: well-formed, complete, and kept apart.

The held-out file measures generalisation, so no training example may reappear in it, not even
with other diacritics or abbreviations (texts are compared in the folded form of nlu.text.fold).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlu.text import fold

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DIR = ROOT / "data" / "nlu"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
RAW_CATALOG = ROOT.parent / "shared" / "catalog" / "raw"

INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "ask_procedure", "ask_documents", "ask_fee",
    "ask_duration", "ask_office", "submit_dossier", "check_status", "supplement_dossier",
    "request_human", "cancel", "bot_challenge", "delete_data", "complaint", "out_of_scope",
}
ENTITIES = {"dossier_code", "phone", "id_number", "date"}
STYLES = {"diacritics", "no_diacritics", "abbreviations", "mixed"}
MIN_TRAINING = 25
MIN_HELDOUT = 15
# [value](entity) or [value]{"entity": ...}: the Rasa 3 inline annotation forms.
ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)(?::[^)]*)?\)")


def plain(example: str) -> str:
    """The example text without entity annotations."""
    return ANNOTATION.sub(lambda m: m.group(1), example)


def training_examples() -> list[tuple[str, str, str]]:
    """(file name, intent, raw example line) for every example in data/nlu/*.yml."""
    out: list[tuple[str, str, str]] = []
    for path in sorted(TRAINING_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in doc.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block["examples"]).splitlines():
                if line.strip():
                    assert line.startswith("- "), f"{path.name}: {line!r} is not a list item"
                    out.append((path.name, block["intent"], line[2:].strip()))
    return out


def heldout() -> list[dict[str, object]]:
    return yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))


def test_training_files_are_rasa_nlu_data() -> None:
    files = sorted(TRAINING_DIR.glob("*.yml"))
    assert files
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["version"] == "3.1", path.name
        assert isinstance(doc["nlu"], list) and doc["nlu"], path.name
        for block in doc["nlu"]:
            kinds = {"intent", "regex", "lookup", "synonym"} & set(block)
            assert len(kinds) == 1 and isinstance(block["examples"], str), (path.name, block)


def test_every_contract_intent_has_enough_examples() -> None:
    counts = Counter(intent for _, intent, _ in training_examples())
    assert set(counts) == INTENTS
    thin = {intent: n for intent, n in counts.items() if n < MIN_TRAINING}
    assert not thin, thin


def test_entity_annotations_use_contract_entities_and_match_patterns() -> None:
    from nlu.entities import find

    annotated = 0
    for name, _, example in training_examples():
        for m in ANNOTATION.finditer(example):
            value, entity = m.group(1), m.group(2)
            assert entity in ENTITIES, (name, example)
            found = {f.entity for f in find(value)}
            assert entity in found, f"{name}: pattern does not see {entity} in {value!r}"
            annotated += 1
    assert annotated >= 40


def test_no_duplicates_within_training() -> None:
    seen: dict[str, tuple[str, str]] = {}
    duplicates = []
    for name, intent, example in training_examples():
        key = fold(plain(example))
        assert key, f"{name}: {example!r} has no words (emoji/punctuation only teach nothing)"
        if key in seen:
            duplicates.append((example, intent, seen[key]))
        seen[key] = (name, intent)
    assert not duplicates, duplicates[:20]


def test_heldout_is_well_formed_and_covers_every_intent() -> None:
    items = heldout()
    assert len(items) >= 400
    codes = {p.stem for p in RAW_CATALOG.glob("*.json")}
    assert len(codes) == 588
    for item in items:
        assert set(item) == {"text", "intent", "procedure", "style"}, item
        assert isinstance(item["text"], str) and item["text"].strip(), item
        assert item["intent"] in INTENTS, item
        assert item["style"] in STYLES, item
        assert item["procedure"] is None or item["procedure"] in codes, item
    counts = Counter(str(item["intent"]) for item in items)
    assert set(counts) == INTENTS
    thin = {intent: n for intent, n in counts.items() if n < MIN_HELDOUT}
    assert not thin, thin
    assert sum(1 for item in items if item["procedure"]) >= 100


def test_heldout_has_no_duplicates_and_shares_nothing_with_training() -> None:
    train = {fold(plain(example)) for _, _, example in training_examples()}
    keys = [fold(str(item["text"])) for item in heldout()]
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    assert not repeated, repeated
    leaked = [k for k in keys if k in train]
    assert not leaked, leaked


@pytest.mark.parametrize("style", sorted(STYLES))
def test_heldout_mixes_styles(style: str) -> None:
    items = heldout()
    share = sum(1 for item in items if item["style"] == style) / len(items)
    assert share >= 0.1, f"{style}: {share:.0%}"


def test_heldout_is_never_training_data() -> None:
    assert "never used for training" in HELDOUT.read_text(encoding="utf-8").splitlines()[0].lower()
