"""The log check of tests/conftest.py finds what it must, and database errors do not quote bound values."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from bot.db import make_engine
from bot.messages import Inbound

log = logging.getLogger("tests.log_privacy")
WORDS = "Em tên Trần Văn Bình, ở thôn Đông"


def _forget(leaks: Any) -> None:
    """Records written on purpose: the end-of-test check (conftest's LogLeaks) must not see them."""
    leaks.records.clear()


def test_a_citizen_text_an_id_or_phone_number_in_a_record_is_found(no_personal_data_in_logs: Any) -> None:
    leaks = no_personal_data_in_logs
    Inbound(channel="zalo", user_id="u1", kind="text", text=WORDS)
    log.debug("turn text=%s", WORDS)
    log.info("citizen id 001203004567 sent")
    log.warning("call back on 0912 345 678 or +84912345678")
    log.info("event 42 done in 12 ms, conversation 7")  # ids and counts: fine
    log.debug("element f.1DB1BB0081E767728676189FD7581A0C, key wb5e092db6ed2f58d19c735496549482d")  # hex ids
    found = leaks.found()
    _forget(leaks)
    assert len(found) == 3
    assert WORDS in found[0] and "001203004567" in found[1] and "0912 345 678" in found[2]


def test_a_text_inside_an_exception_is_found(no_personal_data_in_logs: Any) -> None:
    leaks = no_personal_data_in_logs
    Inbound(channel="web", user_id="u2", kind="text", text=WORDS)
    try:
        raise ValueError(f"cannot parse {WORDS}")
    except ValueError:
        log.exception("turn failed")
    found = leaks.found()
    _forget(leaks)
    assert len(found) == 1 and "cannot parse" in found[0]


@pytest.mark.parametrize("hidden", [True, False])
def test_database_errors_quote_bound_values_only_without_hidden_parameters(
        no_personal_data_in_logs: Any, tmp_path: object, hidden: bool) -> None:
    leaks = no_personal_data_in_logs
    Inbound(channel="web", user_id="u3", kind="text", text=WORDS)
    url = f"sqlite:///{tmp_path}/leak.sqlite3"
    engine = make_engine(url) if hidden else create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": WORDS})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        try:
            connection.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": WORDS})
        except IntegrityError:
            log.exception("insert failed")
            raise
    engine.dispose()
    found = [leak for leak in leaks.found() if "insert failed" in leak]
    _forget(leaks)
    assert bool(found) is not hidden
