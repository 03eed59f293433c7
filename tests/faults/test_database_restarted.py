"""PostgreSQL restarted under load (a throwaway cluster of this test, never the shared service): webhooks
answer 503 while it is down and the platform delivers again, workers carry on; nothing lost or doubled."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.conftest import ScriptedDialogue, channel_settings, zalo_body, zalo_headers
from sqlalchemy import create_engine, func, select, text

from bot.config import Settings
from bot.messages import Reply
from bot.models import InboundEvent
from bot.pipeline import worker
from bot.pipeline.ingest import ingest
from bot.pipeline.runner import Runner
from bot.services import Services
from connectors import build_connectors
from connectors.base import WebhookRequest
from nlu.server import free_port

from .conftest import outcome

CITIZENS, MESSAGES = 4, 10
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A PostgreSQL cluster in a temporary folder on its own loopback port, run as the `postgres` user."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="motcua-pg-"))
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "root",
                           "--no-sync", "-E", "UTF8"])

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://root@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
                           "-l", str(self.dir / "log"), "-w", "start"])

    def crash(self) -> None:
        """Stop at once, like a crash: open connections are cut, recovery runs at the next start."""
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w",
                           "stop"])

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(self.dir / "data"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL 15 binaries and root (to run them as the postgres user)")
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def scripted(turn: Any) -> list[Reply]:
    return [Reply.say(f"Đã nhận tin {turn.inbound.message_id}")]


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """The workers' dialogue, injected into their services."""
    return ScriptedDialogue(scripted)


def test_database_restarted_under_load(cluster: Cluster, settings: Settings, zalo_server: Any,
                                       graph_server: Any, make_services: Callable[[Settings], Services],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "LEASE", timedelta(seconds=2))  # a turn cut off by the crash is retaken soon
    cfg = channel_settings(settings, zalo_server, graph_server)
    services = make_services(Settings(**{**cfg.__dict__, "database_url": cluster.url}))
    zalo = build_connectors(services)["zalo"]
    runner = Runner(services, {}, processors=2, dispatchers=0).start()
    sent: list[str] = []
    redelivered = [0]
    failures: list[str] = []

    def platform(citizen: int) -> None:
        """The platform: delivers each message until it is acknowledged with a 2xx (as Zalo retries)."""
        for n in range(MESSAGES):
            mid = f"pg{citizen}-{n}"
            body = zalo_body(text=f"tin thứ {n} của người {citizen}", msg_id=mid, user=f"80000000{citizen}")
            deadline = time.monotonic() + 30
            while ingest(services, zalo, WebhookRequest(body, zalo_headers(body))).status != 200:
                redelivered[0] += 1
                if time.monotonic() > deadline:
                    failures.append(mid)
                    break
                time.sleep(0.2)
            sent.append(mid)
            time.sleep(0.05)

    threads = [threading.Thread(target=platform, args=(c,)) for c in range(CITIZENS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.25)  # under load
        cluster.crash()
        time.sleep(1.0)  # down for a second
        cluster.start()
        for thread in threads:
            thread.join(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with services.sessions() as session:
                unfinished = session.scalar(select(func.count()).select_from(InboundEvent)
                                            .where(InboundEvent.status != "done"))
            if not unfinished and len(sent) == CITIZENS * MESSAGES:
                break
            time.sleep(0.2)
    finally:
        runner.stop()
    assert failures == []
    result = outcome(services, sent)
    print(f"database crashed and restarted: {len(sent)} messages, {redelivered[0]} deliveries refused "
          f"with 503 and repeated, lost {result.lost}, answered twice {result.twice}")
    assert redelivered[0] > 0  # the crash did hit the load
    assert (result.lost, result.twice) == (0, 0)
    assert all(result.answers[mid] == 1 for mid in sent)
    admin = create_engine(cluster.url)
    with admin.connect() as connection:  # and it was this cluster, not the shared service
        assert connection.execute(text("SHOW port")).scalar() == str(cluster.port)
    admin.dispose()
