"""Retrain the NLU model with reviewed examples, and put it into service only if it is not worse.

Train a new model from a folder of training files (the repository's `data/nlu` plus the reviewed
examples), evaluate the model in service and the new one on the held-out set (never trained on: the
export leaves its texts out) and on the reviewed examples, and load the new model into every running
NLU server with Rasa's `PUT /model` (the old model keeps answering until the new one is loaded) only
when held-out intent accuracy did not fall. Otherwise the old model stays and the result says why.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from nlu.client import NLUClient
from nlu.evaluation import Example, evaluate, load_examples
from nlu.server import RASA, ROOT, rasa_env, running

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
LOAD_TIMEOUT = 300  # seconds a server may take to load a model


class RetrainFailed(RuntimeError):
    """Training or deployment failed; the message says where."""


@dataclass(frozen=True)
class Outcome:
    model: Path
    heldout_accuracy: float
    previous_accuracy: float
    reviewed_accuracy: float | None
    deployed: bool
    reason: str


def train(nlu_dir: Path, out: Path, config: Path = ROOT / "config.yml") -> Path:
    """`rasa train nlu` on the files of `nlu_dir` into `out` (a .tar.gz path)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(RASA), "train", "nlu", "--config", str(config), "--nlu", str(nlu_dir),
           "--out", str(out.parent), "--fixed-model-name", out.name.removesuffix(".tar.gz")]
    done = subprocess.run(cmd, cwd=ROOT, env=rasa_env(), capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise RetrainFailed(f"training failed (exit {done.returncode}): {done.stderr[-500:]}")
    return out


def deploy(model: Path, servers: Sequence[str]) -> None:
    """Load `model` into each running server; each keeps its old model until the new one is loaded."""
    for url in servers:
        answer = requests.put(f"{url.rstrip('/')}/model", json={"model_file": str(model.resolve())},
                              timeout=LOAD_TIMEOUT)
        if answer.status_code != 204:
            raise RetrainFailed(f"{url} refused the model (HTTP {answer.status_code})")


def retrain(nlu_dir: Path, out: Path, servers: Sequence[str], reviewed: Sequence[Example],
            progress: Callable[[str], None] = lambda _: None, heldout: Path = HELDOUT) -> Outcome:
    """Train, evaluate, and deploy only if held-out intent accuracy did not fall."""
    if not servers:
        raise RetrainFailed("no NLU server to compare with and deploy to")
    examples = load_examples(heldout)
    progress("training")
    model = train(nlu_dir, out)
    progress("evaluating the model in service")
    previous = evaluate(examples, NLUClient(servers[0], timeout=30).parse).intent_accuracy
    progress("evaluating the new model")
    with running(model, log_dir=out.parent) as url:
        client = NLUClient(url, timeout=30)
        new = evaluate(examples, client.parse).intent_accuracy
        on_reviewed = evaluate(reviewed, client.parse).intent_accuracy if reviewed else None
    if new < previous:
        reason = f"held-out accuracy would fall from {previous:.1%} to {new:.1%}: the old model stays"
        return Outcome(model, new, previous, on_reviewed, False, reason)
    progress("deploying")
    deploy(model, servers)
    reason = f"held-out accuracy {previous:.1%} -> {new:.1%}: deployed to {len(servers)} server(s)"
    return Outcome(model, new, previous, on_reviewed, True, reason)
