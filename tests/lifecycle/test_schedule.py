"""How the jobs are started: the in-process schedule of the embedded default, and `motcua maintenance`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db import utcnow
from bot.lifecycle import start_scheduler
from bot.models import OutboxMessage
from bot.services import Services

from .helpers import count


def test_the_embedded_schedule_runs_every_job_at_the_interval(services: Services) -> None:
    scheduler = start_scheduler(services)
    try:
        job = scheduler.get_job("motcua-maintenance")
        assert job is not None and job.trigger.interval == timedelta(minutes=60)
        assert job.max_instances == 1 and job.args == (services,)
    finally:
        scheduler.shutdown(wait=False)


def test_maintenance_command_runs_the_jobs_once(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    from .helpers import NOW, with_draft

    age = (utcnow() - NOW) + timedelta(days=services.settings.draft_ttl_days + 1)  # old by the real clock
    with_draft(services, "cron", age)
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("FILES_DIR", str(services.settings.files_dir))
    result = CliRunner().invoke(main, ["maintenance"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.output.strip().splitlines()[-1])
    assert set(done) == {"drafts", "retention", "orphans"}
    assert done["drafts"] == {"drafts_expired": 1, "files_deleted": 1}
    assert count(services, OutboxMessage) == 1
    again = CliRunner().invoke(main, ["maintenance", "--job", "drafts"])
    assert json.loads(again.output.strip().splitlines()[-1]) == {"drafts": {"drafts_expired": 0,
                                                                          "files_deleted": 0}}
