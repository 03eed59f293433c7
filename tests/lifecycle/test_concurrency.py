"""Several processes running maintenance at once: each job runs in one of them, nothing is done twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from bot.config import Settings
from bot.db import transaction, utcnow
from bot.lifecycle import run_once
from bot.models import MaintenanceLease, OutboxMessage
from bot.services import Services

from .helpers import NOW, count, with_draft


def test_two_concurrent_runs_do_not_double_act(services: Services, settings: Settings,
                                               make_services: Callable[[Settings], Services]) -> None:
    ttl = settings.draft_ttl_days
    drafts = [with_draft(services, f"c{n}", timedelta(days=ttl + 1)) for n in range(12)]
    others = [make_services(settings) for _ in range(2)]  # two "processes": their own engines and pools
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run(svc: Services) -> None:
        try:
            start.wait()
            results.append(run_once(svc, NOW))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(svc,)) for svc in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(results) == 2
    expired = sum((r["drafts"] or {}).get("drafts_expired", 0) for r in results)
    assert expired == len(drafts)
    assert count(services, OutboxMessage) == len(drafts)  # one notice per citizen, never two
    assert not any(path.exists() for _, paths in drafts for path in paths)


def test_a_held_lease_skips_the_job_until_it_runs_out(services: Services) -> None:
    with_draft(services, "late", timedelta(days=services.settings.draft_ttl_days + 1))
    assert run_once(services, NOW, jobs=["orphans"])["orphans"] == {"files_deleted": 0}  # creates the rows
    run_once(services, NOW, jobs=["drafts"])  # (the draft job's row too)
    with_draft(services, "later", timedelta(days=services.settings.draft_ttl_days + 1))
    with transaction(services.sessions) as s:
        s.execute(update(MaintenanceLease).where(MaintenanceLease.job == "drafts")
                  .values(owner="another-host:1:1", until=utcnow() + timedelta(minutes=5)))
    assert run_once(services, NOW, jobs=["drafts"]) == {"drafts": None}
    with transaction(services.sessions) as s:  # that process crashed: its lease runs out
        s.execute(update(MaintenanceLease).where(MaintenanceLease.job == "drafts")
                  .values(until=utcnow() - timedelta(seconds=1)))
    assert run_once(services, NOW, jobs=["drafts"])["drafts"] == {"drafts_expired": 1, "files_deleted": 1}
