"""Smoke test of `make run` as a newcomer meets it: free ports, a fresh instance folder, the first web chat
message sent before the system says ready gets the real answer, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bot.config import ROOT
from nlu.server import free_port

pytestmark = pytest.mark.rasa

READY = re.compile(
    r"^ready: (http://127\.0\.0\.1:\d+) — web chat, .*/staff \((\d+\.\d) s after `make run`\)$")


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_make_run_answers_the_first_message_and_stops_cleanly(tmp_path: Path) -> None:
    port, rasa_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "RASA_URL", "DATABASE_URL")}
    # A key of its own, so the run writes no .env into the checkout (ensure_secret_key is tested below).
    env.update(SECRET_KEY="launch-test-secret-key", PORT=str(port), RASA_PORT=str(rasa_port),
               MOTCUA_INSTANCE_DIR=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'instance' / 'motcua.sqlite3'}")
    make = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        cookies = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline = time.monotonic() + 60
        while True:  # the page is served long before the NLU is ready
            try:
                cookies.open(f"{base}/", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and make.poll() is None, "the app did not start"
                time.sleep(0.2)
        question = json.dumps({"text": "đăng ký khai sinh cần giấy tờ gì", "client_id": "smoke-00001"})
        request = urllib.request.Request(f"{base}/chat/api/messages", data=question.encode(),
                                         headers={"Content-Type": "application/json"})
        assert cookies.open(request, timeout=5).status == 202

        assert make.stdout is not None
        for line in make.stdout:  # progress lines, then the ready line
            lines.append(line.rstrip("\n"))
            if READY.match(lines[-1]):
                break
        ready = READY.match(lines[-1])
        assert ready and ready.group(1) == base, "\n".join(lines)
        assert any(line.startswith("... waiting for") for line in lines) or float(ready.group(2)) < 5

        answers: list[str] = []
        deadline = time.monotonic() + 30
        while not any("Đăng ký khai sinh" in a for a in answers) and time.monotonic() < deadline:
            polled = json.loads(cookies.open(f"{base}/chat/api/messages?after=0", timeout=5).read())
            answers = [m["reply"]["text"] for m in polled["messages"]]
            time.sleep(0.3)
        assert any("Đăng ký khai sinh" in a and "giấy tờ" in a for a in answers), answers
        assert not any("đang bận" in a for a in answers), answers  # not the degraded reply

        running = _children(make.pid)
        assert len(running) >= 3, running  # the launcher, the NLU server, the app (and its worker)
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
        try:
            rest, _ = make.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
    output = "\n".join(lines) + rest
    assert make.returncode in (0, 130, -signal.SIGINT), output
    assert "Segmentation fault" not in output and "Error" not in output, output
    time.sleep(0.5)
    assert [pid for pid in running if _alive(pid)] == [], output


def test_a_fresh_checkout_gets_a_secret_key_kept_in_its_env_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SECRET_KEY every restart would sign cookies with a new random key: officers logged out,
    web-chat citizens cut off their conversation. `make run` writes one into .env, once."""
    from bot.launch import ensure_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    env_file = tmp_path / ".env"
    assert ensure_secret_key(env_file)
    first = env_file.read_text()
    assert re.search(r"(?m)^SECRET_KEY=\S{40,}$", first) and oct(env_file.stat().st_mode)[-3:] == "600"
    assert not ensure_secret_key(env_file) and env_file.read_text() == first  # kept across restarts
    copied = tmp_path / "copied.env"  # a .env copied from .env.example: its empty line is filled in
    copied.write_text("PORT=8000\nSECRET_KEY=\nDATABASE_URL=\n")
    assert ensure_secret_key(copied)
    lines = copied.read_text().splitlines()
    assert lines[0] == "PORT=8000" and lines[1].startswith("SECRET_KEY=") and len(lines[1]) > 50
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert not ensure_secret_key(tmp_path / "other.env") and not (tmp_path / "other.env").exists()
