"""The review inbox: citizen messages the bot was unsure about, grouped by similar text, and the labels
reviewers give them (kept as masked NLU examples, exported to `data/nlu/reviewed.yml`).

A message is in the inbox when the NLU read it (it has a confidence) and nobody reviewed it yet, and:
its intent confidence is below `CONFIDENCE`, the bot answered "em chưa hiểu" or handed over because it
did not understand, the citizen asked for a human or wrote again in other words right after it, or the
procedure the linker found scored below `PROCEDURE_SCORE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bot.config import DATA_DIR
from bot.models import Conversation, Dossier, Message, NluExample
from nlu.entities import ID_NUMBER, PHONE
from nlu.text import fold

CONFIDENCE = 0.6  # intent confidence below this: unsure
PROCEDURE_SCORE = 0.8  # a procedure link scored below this (but named at all): unsure
NAMED = 0.5  # linker scores below this name no procedure: nothing to check
WINDOW = timedelta(days=90)  # how far back the inbox looks
SCAN = 3000  # newest NLU-read messages considered per listing
REPHRASE_WITHIN = timedelta(minutes=3)
REPHRASE_SIMILARITY = 0.5
EXPORT = DATA_DIR / "nlu" / "reviewed.yml"

NUMBER = re.compile(r"\d[\d\s.\-]{5,}\d")  # any long number left after the patterns: an account, a plate
MASKS = ((PHONE, "<số điện thoại>"), (ID_NUMBER, "<số định danh>"), (NUMBER, "<số>"))


class ReviewError(ValueError):
    """A label that cannot be kept: the message says why."""


@dataclass
class Item:
    """One group of similar messages, shown by its newest one with the bot's guess."""

    id: int
    text: str
    intent: str | None
    confidence: float | None
    procedure: str | None
    procedure_score: float | None
    at: datetime
    reasons: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "intent": self.intent,
                "confidence": round(self.confidence, 4) if self.confidence is not None else None,
                "procedure": self.procedure, "procedure_score": self.procedure_score,
                "reasons": self.reasons, "count": len(self.ids), "message_ids": self.ids,
                "at": self.at.isoformat()}


def group_key(text: str) -> str:
    """Similar texts share a key: folded, digits and punctuation dropped, words sorted."""
    words = re.sub(r"[^a-z ]+", " ", fold(text)).split()
    return " ".join(sorted(set(words)))


def _reasons(row: Any) -> list[str]:
    reasons = []
    if row.confidence is not None and row.confidence < CONFIDENCE:
        reasons.append("low_confidence")
    if row.outcome in ("fallback", "handoff_not_understood"):
        reasons.append("fallback")
    if row.procedure_score is not None and NAMED <= row.procedure_score < PROCEDURE_SCORE:
        reasons.append("procedure_unsure")
    if row.next_text is not None and row.next_at - row.created_at <= REPHRASE_WITHIN:
        if row.next_intent == "request_human" or (row.next_outcome or "").startswith("handoff_request"):
            reasons.append("asked_for_human")
        elif SequenceMatcher(None, fold(row.text), fold(row.next_text)).ratio() >= REPHRASE_SIMILARITY:
            reasons.append("rephrased")
    return reasons


def inbox(session: Session, now: datetime, limit: int = 100) -> list[Item]:
    """Groups of unsure, unreviewed messages, newest first."""
    following = aliased(Message)
    nxt = (select(following.id).where(following.conversation_id == Message.conversation_id,
                                      following.author == "citizen", following.id > Message.id)
           .order_by(following.id).limit(1).correlate(Message).scalar_subquery())
    after = aliased(Message)
    reviewed = select(NluExample.message_id).where(NluExample.message_id == Message.id).exists()
    rows = session.execute(
        select(Message.id, Message.text, Message.intent, Message.confidence, Message.procedure_code,
               Message.procedure_score, Message.outcome, Message.created_at,
               after.text.label("next_text"), after.intent.label("next_intent"),
               after.outcome.label("next_outcome"), after.created_at.label("next_at"))
        .outerjoin(after, after.id == nxt)
        .where(Message.author == "citizen", Message.confidence.is_not(None),
               Message.created_at >= now - WINDOW, ~reviewed, Message.text != "")
        .order_by(Message.id.desc()).limit(SCAN)
    ).all()
    groups: dict[str, Item] = {}
    for row in rows:
        reasons = _reasons(row)
        if not reasons:
            continue
        key = group_key(row.text) or row.text
        item = groups.get(key)
        if item is None:
            item = groups[key] = Item(row.id, row.text, row.intent, row.confidence, row.procedure_code,
                                      row.procedure_score, row.created_at)
        item.ids.append(row.id)
        item.reasons.extend(r for r in reasons if r not in item.reasons)
        if len(groups) >= limit and key not in groups:
            break
    return list(groups.values())[:limit]


def known_intents(data_dir: Path = DATA_DIR) -> list[str]:
    """The intents of the training data (a reviewer picks one of them)."""
    intents: set[str] = set()
    for path in sorted((data_dir / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in block:
                intents.add(str(block["intent"]))
    return sorted(intents)


def _names(session: Session, message: Message) -> list[str]:
    """Names this citizen gave (consented profile, their dossiers' applicant fields): to mask."""
    conv = session.get(Conversation, message.conversation_id)
    names: list[str] = []
    for key, value in ((conv.profile or {}) if conv else {}).items():
        if "name" in key and isinstance(value, dict) and value.get("display"):
            names.append(str(value["display"]))
    for applicant in session.scalars(select(Dossier.applicant).where(
            Dossier.conversation_id == message.conversation_id)):
        names += [str(v) for k, v in (applicant or {}).items() if k in ("ho_ten", "applicant_name") and v]
    return names


def mask(text: str, names: list[str]) -> str:
    """Phones, ID numbers, long numbers and the given names replaced by placeholders."""
    for name in sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(name), "<họ tên>", text, flags=re.IGNORECASE)
    for pattern, placeholder in MASKS:
        text = pattern.sub(placeholder, text)
    return text


def group_of(session: Session, message_id: int, now: datetime) -> list[int]:
    """The ids of the inbox group shown under `message_id` (or just that id)."""
    for item in inbox(session, now, limit=10_000):
        if message_id in item.ids:
            return item.ids
    return [message_id]


def label(session: Session, message_ids: list[int], *, intent: str | None, procedure: str | None,
          dismiss: bool, reviewer_id: int | None, intents: list[str], procedures: Any) -> int:
    """Keep a reviewer's answer for these messages; returns how many were labelled."""
    if not dismiss:
        if intent not in intents:
            raise ReviewError(f"unknown intent {str(intent)[:50]!r}")
        if procedure is not None and procedure not in procedures:
            raise ReviewError(f"unknown procedure {str(procedure)[:20]!r}")
    done = 0
    for message_id in message_ids:
        message = session.get(Message, message_id)
        if message is None or message.author != "citizen":
            raise ReviewError("unknown message")
        if session.scalars(select(NluExample.id).where(NluExample.message_id == message_id)).first():
            continue
        session.add(NluExample(message_id=message_id, text=mask(message.text, _names(session, message)),
                               intent=None if dismiss else intent,
                               procedure_code=None if dismiss else procedure,
                               dismissed=dismiss, reviewer_id=reviewer_id))
        done += 1
    return done


def examples(session: Session) -> list[NluExample]:
    """Labelled (not dismissed) examples, oldest first."""
    return list(session.scalars(select(NluExample).where(
        NluExample.dismissed.is_(False), NluExample.intent.is_not(None)).order_by(NluExample.id)))


def excluded(root: Path) -> set[str]:
    """Folded texts an export must not repeat: the held-out set and the other training files."""
    from nlu.evaluation import load_examples

    texts = {fold(e.text) for e in load_examples(root / "tests" / "nlu" / "heldout.yml")}
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        if path.name == EXPORT.name:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    texts.add(fold(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line.strip()[2:])))
    return texts


def export(session: Session, exclude: set[str], path: Path = EXPORT) -> int:
    """Write the labelled examples as Rasa NLU data; texts whose folded form is in `exclude` (the held-out
    set, the other training files) or repeats are left out. Returns how many examples were written."""
    seen = set(exclude)
    by_intent: dict[str, list[tuple[str, str | None]]] = {}
    for example in examples(session):
        key = fold(example.text)
        if not key or key in seen or example.intent is None:
            continue
        seen.add(key)
        text = " ".join(example.text.split())
        by_intent.setdefault(example.intent, []).append((text, example.procedure_code))
    lines = ["# Reviewed citizen messages (staff review inbox), masked; from `motcua nlu export-reviewed`.",
             "# Do not edit by hand: label in the console, then export again. A comment names the procedures",
             "# reviewers confirmed (the linker finds procedures; the classifier learns the intent).",
             'version: "3.1"', "nlu:" if by_intent else "nlu: []"]
    for intent in sorted(by_intent):
        procedures = sorted({p for _, p in by_intent[intent] if p})
        if procedures:
            lines.append(f"# procedures: {', '.join(procedures)}")
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text, _ in by_intent[intent]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(len(v) for v in by_intent.values())
