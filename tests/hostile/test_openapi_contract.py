"""The integration API against its own contract (bot/api/openapi.yaml), checked with Schemathesis.

Schemathesis generates requests from the contract, valid (positive) and invalid (negative), and calls the
running Flask app through WSGI with the real Bearer token; its checks: no 5xx, status codes, content
types, headers and bodies as documented, invalid data refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from staff.conftest import add_dossier

from bot.config import Settings

from .harness import BEARER, Hostile, fuzz_settings

EXAMPLES = 25
CODE = "000.00.12.H62-261129-0001"  # a dossier that exists, so status changes reach change_status


def api_schema(app: Flask) -> schemathesis.BaseSchema:
    """The contract as the app serves it, bound to the app (calls go through WSGI)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=BEARER)


def check_operation(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode,
                    examples: int, *, derandomize: bool = True, **path_parameters: str) -> int:
    """Run Schemathesis's checks on `examples` generated calls; returns how many calls were made.

    Two checks are left out where the contract means otherwise: a schema-valid status change may still be
    a move the workflow forbids from the dossier's current status (documented 422), so "valid data is
    accepted" is not checked on POST, nor on the stats period, whose `from` after `to` no schema can forbid
    (documented 422); and unknown query parameters are ignored, as HTTP APIs do, so
    "invalid data is refused" is not checked on negative cases (which also count the Bearer header we
    always send as missing). No-5xx, documented status codes, content types and bodies are checked on all.
    """
    cross_field = operation.method == "post" or operation.label.endswith("/stats")
    excluded = [schemathesis.checks.positive_data_acceptance] if cross_field else []
    if mode == schemathesis.GenerationMode.NEGATIVE:
        excluded.append(schemathesis.checks.negative_data_rejection)
    calls = 0

    @given(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(headers=BEARER, excluded_checks=excluded)

    call()
    return calls


@pytest.fixture
def contract(settings: Settings, make_app: Callable[[Settings], Flask]) -> schemathesis.BaseSchema:
    hostile = Hostile(make_app(fuzz_settings(settings)))
    add_dossier(hostile.app, hostile.conversation_id, code=CODE, appointment=date(2027, 1, 15))
    return api_schema(hostile.app)


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_api_keeps_its_contract(contract: schemathesis.BaseSchema, mode: schemathesis.GenerationMode) -> None:
    operations = [result.ok() for result in contract.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /dossiers", "POST /dossiers/{code}/status"}
    for operation in operations:
        assert check_operation(operation, mode, EXAMPLES) > 0
        if "{code}" in operation.path:
            assert check_operation(operation, mode, EXAMPLES, code=CODE) > 0
