"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL is set),
settings and services pointing at it, the Flask app, the real Rasa NLU server; and a check that no test
leaves personal data in a log record."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.db import upgrade
from bot.messages import Inbound
from bot.services import Services
from nlu import server

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a private PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings.load(
        database_url=db_url,
        files_dir=tmp_path / "files",
        secret_key="test-secret-key",
        embedded_workers=False,
    )


@pytest.fixture
def dialogue() -> Any:
    """The dialogue manager the test's services and apps run: None is the flow engine (`flows.dialogue`).
    Pipeline tests override this fixture with a scripted one (tests/channels/conftest.ScriptedDialogue)."""
    return None


@pytest.fixture
def make_services(dialogue: Any) -> Iterator[Callable[[Settings], Services]]:
    """Builds migrated services for any settings, running the test's `dialogue`; their engines are disposed
    after the test."""
    built: list[Services] = []

    def make(cfg: Settings) -> Services:
        svc = Services.build(cfg, dialogue=dialogue)
        upgrade(svc.engine)
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.engine.dispose()


@pytest.fixture
def make_app(dialogue: Any) -> Iterator[Callable[[Settings], Flask]]:
    """Builds test apps (no worker threads) for any settings, running the test's `dialogue`; disposed after
    the test."""
    from bot.app import create_app

    built: list[Flask] = []

    def make(cfg: Settings) -> Flask:
        application = create_app(cfg, start_workers=False, dialogue=dialogue)
        application.config.update(TESTING=True)
        built.append(application)
        return application

    yield make
    for application in built:
        application.extensions["motcua"].engine.dispose()


@pytest.fixture
def services(settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(settings)


@pytest.fixture
def app(settings: Settings, make_app: Callable[[Settings], Flask]) -> Flask:
    return make_app(settings)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="session")
def rasa_url() -> Iterator[str]:
    """URL of a Rasa server with the trained model: RASA_URL if it answers, else one started here."""
    existing = os.environ.get("RASA_URL")
    if existing and server.ready(existing):
        yield existing
        return
    try:
        with server.running() as url:
            yield url
    except server.ServerFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture
def nlu_settings(settings: Settings, rasa_url: str) -> Settings:
    """Settings whose NLU client talks to the real Rasa server."""
    return Settings.load(**{**settings.__dict__, "rasa_url": rasa_url})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the Rasa server must say so (`-m "not rasa"` then skips it instead of erroring)."""
    unmarked = [item.nodeid for item in items if "rasa_url" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("rasa") is None]
    if unmarked:
        raise pytest.UsageError("these tests use the Rasa server but are not marked @pytest.mark.rasa:\n  "
                                + "\n  ".join(unmarked))
# ---------------------------------------------------------------- no personal data in any log record
# Every test runs with all loggers at DEBUG into `LEAKS`; at its end, a record that quotes a citizen's message
# (any `Inbound` text the test created, however it arrived) or looks like an ID or phone number fails it.

# Standalone numbers only: twelve digits inside a hex id or a hash (a session id, a rate-limit key) are not
# an ID number, and matching them made the check fail at random.
PERSONAL_PATTERNS = (
    re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])"),  # căn cước / số định danh cá nhân
    re.compile(r"(?<![0-9A-Za-z+])(?:\+?84|0)[35789]\d ?\d{3} ?\d{4}(?![0-9A-Za-z])"),  # mobile, +84 or 0
    re.compile(r"(?<![0-9A-Za-z+])(?:\+?84|0)[35789]\d{2} ?\d{3} ?\d{3}(?![0-9A-Za-z])"),  # "0912 345 678"
)
TEST_TOOLS = ("selenium",)  # loggers of the test harness itself, not of the app
MIN_QUOTED = 6  # shorter texts ("có", "hai") say nothing about anyone and would match ordinary words


class LogLeaks(logging.Handler):
    """Keeps every record of a test and the citizen texts it created; `found()` lists the leaks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.citizen_texts: set[str] = set()
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(TEST_TOOLS):  # the browser driver echoes pages the test reads
            self.records.append(record)

    def said(self, value: str) -> None:
        if len(value.strip()) >= MIN_QUOTED:
            self.citizen_texts.add(value.strip())

    def found(self) -> list[str]:
        leaks = []
        for record in self.records:
            shown = record.getMessage()
            if record.exc_info:
                shown += "\n" + self._formatter.formatException(record.exc_info)
            if record.exc_text:
                shown += "\n" + record.exc_text
            if record.stack_info:
                shown += "\n" + record.stack_info
            quoted = [t for t in self.citizen_texts if t in shown]
            numbers = [m.group(0) for p in PERSONAL_PATTERNS for m in p.finditer(shown)]
            if quoted or numbers:
                leaks.append(f"{record.name}: {(quoted + numbers)[0]!r} in {shown[:300]!r}")
        return leaks


LEAKS: LogLeaks | None = None
_inbound_init = Inbound.__init__


def _noted_init(self: Inbound, *args: object, **kwargs: object) -> None:
    _inbound_init(self, *args, **kwargs)  # type: ignore[arg-type]
    if LEAKS is not None and self.text:
        LEAKS.said(self.text)


Inbound.__init__ = _noted_init  # type: ignore[method-assign]  # every citizen message is an Inbound


@pytest.fixture(autouse=True)
def no_personal_data_in_logs() -> Iterator[LogLeaks]:
    global LEAKS
    root = logging.getLogger()
    leaks, level = LogLeaks(), root.level
    LEAKS = leaks
    root.addHandler(leaks)
    root.setLevel(logging.DEBUG)
    try:
        yield leaks
    finally:
        root.removeHandler(leaks)
        root.setLevel(level)
        LEAKS = None
    found = leaks.found()
    if found:
        pytest.fail(f"{len(found)} log record(s) with personal data:\n" + "\n".join(found[:5]), pytrace=False)
