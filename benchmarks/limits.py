"""How many requests one web-chat visitor can make before the abuse limits answer 429, over real HTTP.

    .venv/bin/python benchmarks/limits.py [--storage redis://127.0.0.1:6379/0]

Starts the app as `motcua run` serves it (one gunicorn process with request threads; the embedded workers
off, so only the web side is measured) in a temporary instance with the default limits, then, as one
visitor (one signed cookie, one address), sends messages, then polls, until each is refused, and reports
the counts and the time taken. Bounded: at most 1,000 requests per kind; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
MAX_TRIES = 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until_refused(session: requests.Session, method: str, url: str, **kw: object) -> tuple[int, int, float]:
    """(accepted before the first 429, status of the first refusal, seconds)."""
    start = time.monotonic()
    for accepted in range(MAX_TRIES):
        resp = session.request(method, url, **kw)  # type: ignore[arg-type]
        if resp.status_code >= 400:
            return accepted, resp.status_code, time.monotonic() - start
    return MAX_TRIES, 0, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--storage", default="", help="RATE_LIMIT_STORAGE_URI (default: memory)")
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MOTCUA_INSTANCE_DIR": tmp, "DATABASE_URL": f"sqlite:///{tmp}/motcua.sqlite3",
               "EMBEDDED_WORKERS": "false", "SECRET_KEY": "benchmark-secret", "COOKIE_SECURE": "false",
               "RATE_LIMIT_STORAGE_URI": args.storage}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "8",
             "-b", f"127.0.0.1:{port}", "bot.wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(f"{base}/static/chat.js", timeout=2)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the app did not start") from None
                    time.sleep(0.2)
            visitor = requests.Session()
            assert visitor.get(f"{base}/").status_code == 200
            sent, status, took = _until_refused(visitor, "POST", f"{base}/chat/api/messages",
                                                json={"text": "Cho em hỏi thủ tục khai sinh"})
            print(f"messages: {sent} accepted, then {status} (in {took:.2f} s)")
            polled, status, took = _until_refused(visitor, "GET", f"{base}/chat/api/messages?after=0")
            print(f"polls:    {polled} accepted, then {status} (in {took:.2f} s)")
            stranger = requests.Session()  # no cookie: refused at once, nothing stored
            refused = stranger.post(f"{base}/chat/api/messages", json={"text": "x"}).status_code
            print(f"without a cookie: {refused}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
