"""Rasa custom graph components for Vietnamese chat, listed in config.yml.

- VietnameseTokenizer: tokens keep spans on the original text; their lemma is the folded form
  (no diacritics, abbreviations expanded), which is what the featurizers see.
- PatternEntityExtractor: dossier codes, phones, citizen IDs, dates (nlu.entities).
- ProcedureLinker: the `procedure` entity from catalogue names and aliases (nlu.matching), ranked
  candidates in `procedure_candidates`, and the words of the matched name masked for the
  classifiers so intents are learned from the question, not from which procedure is named.

Imported only inside the Rasa server (Python 3.10); the app never imports this module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import entities as pattern_entities
from nlu.text import words

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE_MASK = "__thu_tuc__"
PATTERN_MASKS = {"dossier_code": "__ma_ho_so__", "phone": "__so_dien_thoai__",
                 "id_number": "__so_dinh_danh__", "date": "__ngay__"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Word tokens on the original text with folded, abbreviation-expanded lemmas."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        tokens: list[Token] = []
        for word in words(text):
            # An expanded abbreviation gives several tokens sharing the abbreviation's span.
            for folded in word.folded:
                tokens.append(Token(word.text, word.start, word.end, lemma=folded))
        if not tokens:
            # Rasa needs at least one token; an empty / emoji-only message becomes one blank token.
            tokens.append(Token(text[:1] or " ", 0, min(1, len(text)), lemma="__rong__"))
        return self._apply_token_pattern(tokens)


def _mask(message: Message, start: int, end: int, mask: str, words: frozenset[str] | None = None) -> None:
    """Replace the lemmas of tokens inside [start, end) by a mask lemma (what the classifiers see).

    With `words`, only tokens whose lemma is one of them are masked, so question words that sit
    between the words of a procedure name ("... thì bao lâu nhận được thẻ") stay visible. Each
    run of masked tokens becomes one mask token.
    """
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    kept: list[Token] = []
    in_run = False
    for token in tokens:
        masked = token.start >= start and token.end <= end and (words is None or token.lemma in words)
        if masked and in_run:
            continue
        if masked:
            token.lemma = mask
        kept.append(token)
        in_run = masked
    message.set(TOKENS_NAMES[TEXT], kept)


class _TextProcessor(GraphComponent):
    """Runs `_annotate` on training examples and on parsed messages alike."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def _annotate(self, message: Message, training: bool) -> None:
        raise NotImplementedError

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            if example.get(TEXT):
                self._annotate(example, training=True)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._annotate(message, training=False)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class PatternEntityExtractor(_TextProcessor, EntityExtractorMixin):
    """Dossier codes, phones, IDs and dates by pattern, with normalised values."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"mask": True}

    def _annotate(self, message: Message, training: bool) -> None:
        text = message.get(TEXT) or ""
        found = pattern_entities.find(text)
        for f in found:
            if self._config.get("mask", True):
                _mask(message, f.start, f.end, PATTERN_MASKS[f.entity])
        if training:
            return  # annotated training entities stay as written
        extracted = [
            {"entity": f.entity, "value": f.value, "start": f.start, "end": f.end, "confidence": 1.0}
            for f in found
        ]
        message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(extracted),
                    add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ProcedureLinker(_TextProcessor, EntityExtractorMixin):
    """Links the message to a national procedure code from catalogue names and aliases."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"data_dir": None, "candidates": 3, "mask": True}

    def __init__(self, config: dict[str, Any]) -> None:
        from nlu.matching import ProcedureIndex, load_entries

        super().__init__(config)
        data_dir = Path(config.get("data_dir") or ROOT / "data")
        if not data_dir.is_absolute():
            data_dir = ROOT / data_dir
        self.index = ProcedureIndex(load_entries(data_dir))
        self._name_words: dict[str, frozenset[str]] = {}
        log.info("procedure linker: %d procedures indexed", len(self.index))

    def name_words(self, code: str) -> frozenset[str]:
        """Folded words of a procedure's names and aliases: the only words the linker masks."""
        if code not in self._name_words:
            entry = self.index.entry(code)
            names = [entry.name, entry.short_name, *entry.aliases] if entry else []
            self._name_words[code] = frozenset(f for n in names for w in words(n) for f in w.folded)
        return self._name_words[code]

    def _annotate(self, message: Message, training: bool) -> None:
        text = message.get(TEXT) or ""
        linked = self.index.link(text)
        if linked is not None and linked.start is not None and self._config.get("mask", True):
            _mask(message, linked.start, linked.end, PROCEDURE_MASK, self.name_words(linked.code))
        if training:
            return
        ranked = self.index.search(text, limit=int(self._config.get("candidates", 3)))
        message.set(
            "procedure_candidates",
            [{"code": m.code, "name": m.name, "score": round(m.score, 4)} for m in ranked],
            add_to_output=True,
        )
        if linked is None:
            return
        entity = {"entity": "procedure", "value": linked.code, "start": linked.start,
                  "end": linked.end, "confidence": round(linked.score, 4)}
        message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name([entity]),
                    add_to_output=True)
