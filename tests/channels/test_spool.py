"""SQLite inbox spool: webhooks write beside the database; workers import idempotently."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db import upgrade
from bot.models import InboundEvent, OutboxMessage
from bot.pipeline import worker
from bot.pipeline.ingest import ingest
from bot.pipeline.spool import SPOOL, import_spool, spool_engine
from bot.services import Services
from connectors import build_connectors
from connectors.base import WebhookRequest

from .conftest import ScriptedDialogue, zalo_body, zalo_headers


@pytest.fixture
def spooled(ch_settings: Settings, dialogue: object) -> Services:
    if not ch_settings.database_url.startswith("sqlite"):
        pytest.skip("the spool is for SQLite only")
    services = Services.build(Settings(**{**ch_settings.__dict__, "inbox_spool": True}), dialogue=dialogue)
    upgrade(services.engine)
    return services


def _count(services: Services, model: type) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _spool_size(services: Services) -> int:
    engine = spool_engine(services)
    assert engine is not None
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SPOOL)).scalar() or 0)


@pytest.mark.parametrize("dialogue", [ScriptedDialogue()], ids=["scripted"])
def test_spool_import_is_idempotent(spooled: Services) -> None:
    connectors = build_connectors(spooled)
    zalo = connectors["zalo"]
    first = zalo_body(text="Cho em hỏi lệ phí", msg_id="sp-1")
    second = zalo_body(text="Và thời hạn ạ", msg_id="sp-2")
    for body in (first, first, second):  # a platform retry while still spooled
        assert ingest(spooled, zalo, WebhookRequest(body, zalo_headers(body))).status == 200
    assert _count(spooled, InboundEvent) == 0 and _spool_size(spooled) == 2
    assert worker.drain(spooled, connectors) == 2
    assert _spool_size(spooled) == 0 and _count(spooled, OutboxMessage) == 2
    # a retry after the import is spooled again and ignored by the unique key; imported rows leave the
    # spool together, once an import finds nothing new (or every CLEAN_SECONDS)
    assert ingest(spooled, zalo, WebhookRequest(first, zalo_headers(first))).status == 200
    assert import_spool(spooled) == 0 and _spool_size(spooled) == 1
    assert import_spool(spooled) == 0 and _spool_size(spooled) == 0
    assert worker.drain(spooled, connectors) == 0 and _count(spooled, OutboxMessage) == 2
    # the emptied spool hands out low ids again: a new event is still imported
    third = zalo_body(text="Cảm ơn em", msg_id="sp-3")
    assert ingest(spooled, zalo, WebhookRequest(third, zalo_headers(third))).status == 200
    assert worker.drain(spooled, connectors) == 1 and _count(spooled, OutboxMessage) == 3
    with spooled.sessions() as session:
        ids = session.scalars(select(InboundEvent.event_id).order_by(InboundEvent.id)).all()
    assert ids == ["msg:sp-1", "msg:sp-2", "msg:sp-3"]  # arrival order kept
    spooled.engine.dispose()
