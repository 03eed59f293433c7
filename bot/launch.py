"""`make run`: the NLU server and the app as one system that says when it is ready and stops cleanly.

Both children run in process groups of their own, so a Ctrl-C in the terminal reaches only this launcher;
it then stops the app and the NLU server in order and waits for them (nothing is left running, no
crash report from a half-killed child). The app takes messages at once: a turn that needs the NLU before
the model is loaded waits in the queue (bot/pipeline/worker.py), so "ready" means the first message gets
the real answer, not the busy reply.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from dotenv import dotenv_values, load_dotenv

from bot.config import INSTANCE_DIR, ROOT
from nlu import server

PROGRESS_EVERY = 5.0  # seconds between "still loading" lines
STOP_WAIT = 20.0  # seconds a child gets to stop before it is killed


def health(url: str) -> dict[str, object] | None:
    """The app's /healthz body, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) else None


class Launcher:
    def __init__(self, host: str, port: int, rasa_port: int, model: Path, instance: Path,
                 started: float) -> None:
        self.host, self.port, self.rasa_port = host, port, rasa_port
        self.model, self.instance, self.started = model, instance, started
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        log_path = self.instance / "nlu-server.log"
        self.children["NLU server"] = server.spawn(self.model, self.rasa_port, log_path, own_session=True)
        say(f"==> NLU server starting on 127.0.0.1:{self.rasa_port} (log: {_shown(log_path)})")
        env = {**os.environ, "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
               "MOTCUA_INSTANCE_DIR": str(self.instance)}
        self.children["app"] = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--host", self.host, "--port", str(self.port)],
            env=env, start_new_session=True,
        )

    def wait_ready(self) -> bool:
        """Poll /healthz until database and NLU answer; a progress line every few seconds."""
        next_note = time.monotonic() + PROGRESS_EVERY
        while not self.stopping:
            dead = self._dead_child()
            if dead:
                say(f"error: the {dead} stopped before the system was ready"
                    + (f"; see {_shown(self.instance / 'nlu-server.log')}" if dead == "NLU server" else ""))
                return False
            body = health(self.url)
            if body and body.get("ready"):
                say(f"ready: {self.url} — web chat, {self.url}/staff "
                    f"({time.time() - self.started:.1f} s after `make run`)")
                return True
            if time.monotonic() >= next_note:
                waiting = "the app" if body is None else "the NLU server to load its model"
                say(f"... waiting for {waiting} ({time.time() - self.started:.0f} s)")
                next_note += PROGRESS_EVERY
            time.sleep(0.25)
        return False

    def serve(self) -> int:
        """Until Ctrl-C / SIGTERM (exit 0) or until a child dies (exit 1)."""
        while not self.stopping:
            dead = self._dead_child()
            if dead:
                say(f"error: the {dead} stopped unexpectedly")
                return 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        """Ask every child's process group to stop, the app first (it finishes its turns); kill stragglers."""
        for name in ("app", "NLU server"):
            proc = self.children.get(name)
            if proc is not None and proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        for proc in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)  # children the group leader left behind, if any
            proc.wait()

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            say("==> stopping")
        self.stopping = True

    def _dead_child(self) -> str | None:
        return next((name for name, proc in self.children.items() if proc.poll() is not None), None)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(line: str) -> None:
    print(line, flush=True)


def ensure_secret_key(env_file: Path) -> bool:
    """Give a fresh checkout a SECRET_KEY of its own, kept in `.env` (where secrets live, git-ignored).

    Without one the app signs with a random key per process: every restart would log officers out and
    cut web-chat citizens off their conversation (their signed cookie no longer matches). Returns whether
    one was written.
    """
    if os.environ.get("SECRET_KEY") or dotenv_values(env_file).get("SECRET_KEY"):
        return False
    key = secrets.token_urlsafe(48)
    existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    if re.search(r"(?m)^SECRET_KEY=\s*$", existing):  # an empty line copied from .env.example
        text = re.sub(r"(?m)^SECRET_KEY=\s*$", f"SECRET_KEY={key}", existing, count=1)
    else:
        text = existing + ("" if not existing or existing.endswith("\n") else "\n") + (
            "# Generated by `make run`: signs staff sessions and web-chat cookies (keep it secret).\n"
            f"SECRET_KEY={key}\n")
    env_file.write_text(text, encoding="utf-8")
    env_file.chmod(0o600)
    return True


def main(argv: list[str] | None = None) -> int:
    if ensure_secret_key(ROOT / ".env"):
        say("==> SECRET_KEY generated in .env (sessions and web-chat cookies survive restarts)")
    load_dotenv(ROOT / ".env", override=False)  # PORT, RASA_PORT, MOTCUA_INSTANCE_DIR as the app reads them
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT") or 5005))
    parser.add_argument("--model", type=Path, default=server.MODEL)
    parser.add_argument("--since", type=float, default=None,
                        help="epoch seconds when `make run` started (for the time-to-ready line)")
    args = parser.parse_args(argv)
    instance = Path(os.environ.get("MOTCUA_INSTANCE_DIR") or INSTANCE_DIR)
    launcher = Launcher(args.host, args.port, args.rasa_port, args.model, instance, args.since or time.time())
    signal.signal(signal.SIGINT, launcher.on_signal)
    signal.signal(signal.SIGTERM, launcher.on_signal)
    try:
        launcher.start()
        code = launcher.serve() if launcher.wait_ready() or launcher.stopping else 1
    except server.ServerFailed as exc:
        say(f"error: {exc}")
        code = 1
    finally:
        launcher.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
