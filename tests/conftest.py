"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL is set),
settings and services pointing at it, the Flask app, and the real Rasa NLU server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.db import upgrade
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
def make_services() -> Iterator[Callable[[Settings], Services]]:
    """Builds migrated services for any settings; their engines are disposed after the test."""
    built: list[Services] = []

    def make(cfg: Settings) -> Services:
        svc = Services.build(cfg)
        upgrade(svc.engine)
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.engine.dispose()


@pytest.fixture
def make_app() -> Iterator[Callable[[Settings], Flask]]:
    """Builds test apps (no worker threads) for any settings; disposed after the test."""
    from bot.app import create_app

    built: list[Flask] = []

    def make(cfg: Settings) -> Flask:
        application = create_app(cfg, start_workers=False)
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
