"""A full disk when a file is stored: refused with a reason or handed to an officer, nothing half-written.

The files folder is a real 64 KiB tmpfs filled to the last byte (the test needs root, as mount does).
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.db import transaction, utcnow
from bot.document import accept_upload
from bot.messages import Inbound, Reply
from bot.models import Conversation, InboundEvent, StoredFile
from bot.pipeline import worker
from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.templates import text
from connectors.base import ParsedEvent
from tests.channels.test_web_chat import at_document_step

from .conftest import outcome

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A tiny real filesystem, then filled: the next write fails with ENOSPC. Yields its mount point."""
    mount = tmp_path / "files"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (mount / "web").mkdir()
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(filler, b"\0" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(filler)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name != "filler")


def test_a_web_upload_on_a_full_disk_is_refused_with_a_reason(
        settings: Settings, make_app: Callable[[Settings], Flask], full_disk: Path) -> None:
    app = make_app(Settings.load(**{**settings.__dict__, "files_dir": full_disk}))
    client = app.test_client()
    client.get("/")
    at_document_step(app, client)  # uploads are taken only when a document step waits for one
    form = {"file": (io.BytesIO(PDF * 200), "to-khai.pdf", "application/pdf"), "client_id": "up-full-01"}
    resp = client.post("/chat/api/upload", data=form, content_type="multipart/form-data")
    assert resp.status_code == 503 and resp.get_json() == {"error": text("channels.web_not_stored")}
    assert _leftovers(full_disk) == []  # nothing half-written
    with app.extensions["motcua"].sessions() as session:
        assert session.scalars(select(InboundEvent)).all() == []  # no event pointing at a missing file
    (full_disk / "filler").unlink()  # space again: the citizen's second try goes through
    form = {"file": (io.BytesIO(PDF * 200), "to-khai.pdf", "application/pdf"), "client_id": "up-full-02"}
    assert client.post("/chat/api/upload", data=form, content_type="multipart/form-data").status_code == 202


def test_a_turn_storing_a_document_on_a_full_disk_is_handed_to_an_officer_once(
        settings: Settings, make_services: Callable[[Settings], Services], full_disk: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The document step stores the citizen's file in the turn: every attempt meets ENOSPC, the event
    becomes a dead letter, the citizen hears that an officer will answer, once."""
    services = make_services(Settings.load(**{**settings.__dict__, "files_dir": full_disk}))

    def stores_a_document(turn: Any) -> list[Reply]:
        accept_upload(turn.session, turn.services.settings, PDF * 200, turn.conversation)
        return [Reply.say("Dạ, em đã nhận tờ khai.")]

    monkeypatch.setattr("flows.dialogue.handle_turn", stores_a_document)
    inbound = Inbound("zalo", "zu-disk", "attachment", message_id="zm-disk")
    store_events(services, "zalo", [ParsedEvent("msg:zm-disk", "zu-disk", inbound)], b"{}")
    later, statuses = utcnow(), []
    for _ in range(worker.MAX_ATTEMPTS):
        later += timedelta(minutes=2)
        [claim] = worker.claim_events(services, now=later)
        statuses.append(worker.process(services, claim))
    assert statuses[-1] == "failed" and set(statuses[:-1]) == {"pending"}
    assert _leftovers(full_disk) == []
    result = outcome(services, ["zm-disk"])
    print(f"disk full in a turn: lost {result.lost}, answered twice {result.twice}")
    assert (result.lost, result.twice) == (0, 0)
    with services.sessions() as session:
        event = session.scalars(select(InboundEvent)).one()
        assert (event.error or "").startswith("OSError") and "No space left" in (event.error or "")
        conv = session.scalars(select(Conversation)).one()
        assert (conv.mode, conv.handoff_reason) == ("waiting_human", "turn_failed")
        assert session.scalars(select(StoredFile)).all() == []
    with transaction(services.sessions) as session:  # and with space again, files are stored
        (full_disk / "filler").unlink()
        conv = session.scalars(select(Conversation)).one()
        stored = accept_upload(session, services.settings, PDF * 200, conv)
        assert (full_disk / stored.storage_name).stat().st_size == len(PDF) * 200
