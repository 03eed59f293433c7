"""Every parser the outside world reaches, fuzzed with Hypothesis: never a 5xx, never a lost valid event.

A bounded, derandomised number of cases per parser keeps this part of the suite under a minute;
benchmarks/fuzz.py runs the same targets for longer and prints the figures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from bot.config import Settings

from .harness import TARGETS, Hostile, Target, fuzz_settings, run

EXAMPLES = 60


@pytest.fixture
def hostile(settings: Settings, make_app: Callable[[Settings], Flask]) -> Hostile:
    return Hostile(make_app(fuzz_settings(settings)))


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_parser_never_answers_5xx_nor_loses_valid_events(hostile: Hostile, target: Target) -> None:
    tally = run(target, hostile, EXAMPLES, strict=True)
    assert tally.cases >= EXAMPLES // 2  # the strategy really generated cases (a few may be duplicates)
    assert tally.server_errors == 0 and tally.lost == 0
