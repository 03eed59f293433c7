"""Staff console fixtures: accounts, logged-in clients, an escalated conversation and a dossier."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bot.agency import local_today
from bot.config import Settings
from bot.db import transaction, utcnow
from bot.models import Conversation, Dossier, DossierDocument, DossierStatusChange, StaffUser, StoredFile
from bot.staff.auth import create_user

PASSWORD = "mat-khau-rat-dai-2026"
API_TOKEN = "test-api-token-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings plus an integration API token."""
    return Settings.load(**{**settings.__dict__, "api_token": API_TOKEN})


def db(app: Flask) -> Session:
    return app.extensions["motcua"].sessions()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., int]:
    def make(username: str, role: str = "officer", password: str = PASSWORD) -> int:
        with transaction(app.extensions["motcua"].sessions) as session:
            return create_user(session, username, password, role).id

    return make


def csrf_of(client: FlaskClient) -> str:
    """The CSRF token of the client's session (as rendered into every form)."""
    page = client.get("/staff/login").get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, "login page carries a CSRF token"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client)
    return client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})


class Staff:
    """A logged-in test client that adds the CSRF token to every POST."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        with client.session_transaction() as sess:
            self.token = sess["csrf"]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token}, **kw)


@pytest.fixture
def officer(app: Flask, make_user: Callable[..., int]) -> Staff:
    make_user("canbo1")
    client = app.test_client()
    assert login(client, "canbo1").status_code == 302
    return Staff(client)


@pytest.fixture
def admin(app: Flask, make_user: Callable[..., int]) -> Staff:
    make_user("quantri", role="admin")
    client = app.test_client()
    assert login(client, "quantri").status_code == 302
    return Staff(client)


def add_conversation(
    app: Flask,
    *,
    mode: str = "waiting_human",
    reason: str | None = "request_human",
    channel: str = "facebook",
    user_id: str = "psid-1",
) -> int:
    with transaction(app.extensions["motcua"].sessions) as session:
        conv = Conversation(
            channel=channel,
            user_id=user_id,
            state={},
            # As flows.kinds.submit.remember keeps it.
            profile={"applicant_name": {"display": "Nguyễn Văn An"}, "phone": {"display": "0912 345 678"}},
            mode=mode,
            handoff_reason=reason,
            handoff_since=utcnow() - timedelta(minutes=12),
            last_inbound_at=utcnow(),
            last_inbound_message_id="mid.1",
        )
        session.add(conv)
        session.flush()
        return conv.id


def add_dossier(
    app: Flask,
    conversation_id: int | None,
    *,
    code: str = "000.00.12.H62-261129-0001",
    status: str = "received",
    appointment: date | None = None,
    phone: str = "+84912345678",
    procedure: str = "1.001193",
    applicant: dict[str, Any] | None = None,
    reference: str | None = None,
) -> str:
    """A dossier as the bot and an officer leave it. An accepted one (any status but waiting_acceptance)
    carries `code` as its official code; its online reference is `reference` (default: `code` too, like
    the dossiers submitted before the bot gave references). Returns the code to address it by."""
    accepted = status != "waiting_acceptance"
    with transaction(app.extensions["motcua"].sessions) as session:
        conv = session.get(Conversation, conversation_id) if conversation_id else None
        dossier = Dossier(
            code=reference or code,
            official_code=code if accepted else None,
            procedure_code=procedure,
            conversation_id=conversation_id,
            channel=conv.channel if conv else "zalo",
            user_id=conv.user_id if conv else "u-x",
            # As flows.kinds.submit stores it: values by field id, the labels asked under "_labels".
            applicant=applicant or {
                "ho_ten": "Nguyễn Văn An",
                "cccd": "001203012345",
                "_labels": {"ho_ten": "Họ và tên người yêu cầu", "cccd": "Số định danh cá nhân"},
            },
            phone=phone,
            status=status,
            appointment_date=(appointment or local_today() + timedelta(days=5)) if accepted else None,
            processing_value=1,
            processing_unit="working_day",
            accepted_at=utcnow() if accepted else None,
            supplement_items=[],
        )
        session.add(dossier)
        session.flush()
        session.add(DossierStatusChange(dossier_id=dossier.id, status=status, actor="bot"))
        return code


def staff_id(app: Flask, username: str) -> int:
    with db(app) as session:
        user = session.query(StaffUser).filter_by(username=username).one()
        return user.id


def add_file(app: Flask, name: str, data: bytes, content_type: str) -> int:
    """A stored file on disk and in the database, as the document intake leaves it."""
    folder = Path(app.extensions["motcua"].settings.files_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    with transaction(app.extensions["motcua"].sessions) as session:
        stored = StoredFile(
            storage_name=name,
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=content_type,
            size=len(data),
        )
        session.add(stored)
        session.flush()
        return stored.id


def add_document(app: Flask, code: str, item: str, name: str, data: bytes, content_type: str, *,
                 from_card: bool = False) -> None:
    file_id = add_file(app, name, data, content_type)
    with transaction(app.extensions["motcua"].sessions) as session:
        dossier = session.query(Dossier).filter_by(code=code).one()
        session.add(DossierDocument(dossier_id=dossier.id, item=item, file_id=file_id, from_card=from_card))
