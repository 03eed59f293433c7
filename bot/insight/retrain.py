"""Retraining from the console and the command line: export the reviewed examples, run `nlu.retrain`,
record the model and its figures. One retrain at a time per process; the console polls its progress.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction, utcnow
from bot.insight import review
from bot.models import NluModelRecord
from nlu.evaluation import Example
from nlu.retrain import Outcome, RetrainFailed, retrain
from nlu.server import ROOT

log = logging.getLogger(__name__)

MODELS_DIR = ROOT / "models"


@dataclass
class Job:
    """What the one background retrain is doing (shown in the console)."""

    state: str = "idle"  # idle | running | done | failed
    step: str = ""
    result: str = ""

    def text(self) -> str:
        labels = {"running": "Đang huấn luyện lại", "done": "Đã xong", "failed": "Không thành công"}
        if self.state == "idle":
            return ""
        return f"{labels[self.state]}: {self.step if self.state == 'running' else self.result}"


JOB = Job()
_LOCK = threading.Lock()


def reviewed_examples(session: Session) -> list[Example]:
    return [Example(e.text, e.intent or "", e.procedure_code, "reviewed") for e in review.examples(session)]


def training_folder(session: Session, data_dir: Path, into: Path) -> int:
    """A copy of the repository's training files with a fresh export of the reviewed examples."""
    into.mkdir(parents=True, exist_ok=True)
    for path in (data_dir / "nlu").glob("*.yml"):
        if path.name != review.EXPORT.name:
            shutil.copy(path, into / path.name)
    return review.export(session, review.excluded(ROOT), into / review.EXPORT.name)


def run(sessions: sessionmaker[Session], data_dir: Path, servers: list[str], models_dir: Path | None = None,
        nlu_dir: Path | None = None) -> tuple[Outcome, NluModelRecord]:
    """Retrain with the reviewed examples (in `nlu_dir`, else a temporary copy of data/nlu) and record it."""
    def progress(step: str) -> None:
        JOB.step = step
        log.info("retrain: %s", step)

    with sessions() as session:
        examples = reviewed_examples(session)
        scratch = None
        if nlu_dir is None:
            scratch = nlu_dir = Path(tempfile.mkdtemp(prefix="motcua-nlu-"))
            count = training_folder(session, data_dir, scratch)
        else:
            count = review.export(session, review.excluded(ROOT), nlu_dir / review.EXPORT.name)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    out = (models_dir or MODELS_DIR) / f"nlu-{stamp}.tar.gz"
    try:
        outcome = retrain(nlu_dir, out, servers, examples, progress)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    with transaction(sessions) as session:
        record = NluModelRecord(path=str(outcome.model), examples=count,
                                heldout_accuracy=outcome.heldout_accuracy,
                                previous_accuracy=outcome.previous_accuracy,
                                reviewed_accuracy=outcome.reviewed_accuracy, deployed=outcome.deployed,
                                note=outcome.reason)
        session.add(record)
        session.flush()
        session.expunge(record)
    return outcome, record


def start(sessions: sessionmaker[Session], data_dir: Path, servers: list[str]) -> bool:
    """Run a retrain in a background thread; False if one is already running."""
    if not _LOCK.acquire(blocking=False):
        return False
    JOB.state, JOB.step, JOB.result = "running", "starting", ""

    def work() -> None:
        try:
            outcome, _ = run(sessions, data_dir, servers)
            JOB.state, JOB.result = "done", outcome.reason
        except (RetrainFailed, OSError) as exc:
            log.warning("retrain failed: %s", exc.__class__.__name__)
            JOB.state, JOB.result = "failed", str(exc)[:300]
        finally:
            _LOCK.release()

    threading.Thread(target=work, name="motcua-retrain", daemon=True).start()
    return True


def current_models(session: Session) -> dict[str, Any]:
    """The model in service (last deployed by a retrain), the last attempt, and the job's progress."""
    last = session.scalars(select(NluModelRecord).order_by(NluModelRecord.id.desc())).first()
    serving = session.scalars(select(NluModelRecord).where(NluModelRecord.deployed.is_(True))
                              .order_by(NluModelRecord.id.desc())).first()
    return {"serving": serving, "last": last, "job": JOB.text()}

