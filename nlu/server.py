"""Start and stop a Rasa NLU server from the app side (tests, benchmarks): one way to do it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nlu.client import NLUClient

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "nlu.tar.gz"


def rasa_env() -> dict[str, str]:
    """Environment for Rasa processes: our components importable, no telemetry, quiet TensorFlow."""
    quiet = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return {**os.environ, "PYTHONPATH": str(ROOT), **quiet}


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(url: str) -> bool:
    """True once the server answers and has a model loaded."""
    return NLUClient(url, timeout=1.0).available()


def spawn(model: Path, port: int, log_path: Path, *, own_session: bool = False) -> subprocess.Popen[bytes]:
    """Start `rasa run --enable-api` on 127.0.0.1:`port`, its output in `log_path`; returns at once.

    `own_session`: in a process group of its own, so a Ctrl-C in the terminal reaches only the launcher,
    which then stops the server in order (see bot/launch.py).
    """
    if not model.exists() or not RASA.exists():
        raise ServerFailed(f"no model at {model} or no Rasa environment: run `make setup` first")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(RASA), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port), "-m", str(model)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=rasa_env(), start_new_session=own_session,
        )


@contextmanager
def running(model: Path = MODEL, *, port: int | None = None, log_dir: Path | None = None,
            timeout: float = 180) -> Iterator[str]:
    """A `rasa run --enable-api` on loopback serving `model`; yields its URL, stops it afterwards."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = (log_dir or ROOT / "instance") / f"nlu-server-{port}.log"
    proc = spawn(model, port, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"NLU server did not start; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
