"""JSON POSTs over one kept-alive http.client connection per thread and host (standard library only).

For the calls on every turn's path: the NLU parse (nlu/client.py) and each reply's send
(connectors/http.py). requests' session machinery (hooks, cookies, adapters, urllib3 pools) costs about
0.6 ms of CPU per call, as much as the rest of the call; on a 2-core machine shared with the NLU server
that is turns per second. An idle connection the server closed is noticed before anything is sent on it
(its socket reads as ready) and replaced, so a request is never sent twice.
"""

from __future__ import annotations

import json
import select
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class JsonAnswer:
    """An HTTP answer, with the part of `requests.Response` the callers read."""

    status_code: int
    headers: Message
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return json.loads(self.content)


class KeptAlive:
    """Connections per thread and (scheme, host, port); errors are http.client's (OSError, HTTPException)."""

    def __init__(self, tls: Callable[[], ssl.SSLContext] = ssl.create_default_context) -> None:
        self._tls_factory = tls
        self._tls: ssl.SSLContext | None = None
        self._local = threading.local()

    def post_json(self, url: str, body: Any, *, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None,
                  timeout: float | tuple[float, float] = 15.0) -> JsonAnswer:
        """POST `body` as JSON; `timeout` is seconds, or (connect, read) as requests takes it."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        payload = json.dumps(body, ensure_ascii=False).encode()
        sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        conn = self._connection(parts.scheme, parts.hostname, parts.port, connect_timeout)
        try:
            conn.request("POST", target, body=payload, headers=sent)
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            response = conn.getresponse()
            content = response.read()
        except BaseException:
            conn.close()  # http.client connects anew on the next request
            raise
        if response.will_close:
            conn.close()
        return JsonAnswer(response.status, response.msg, content)

    def _connection(self, scheme: str, host: str, port: int | None, timeout: float) -> HTTPConnection:
        pool: dict[tuple[str, str, int | None], HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, host, port))
        if conn is None:
            if scheme == "https":
                conn = HTTPSConnection(host, port, timeout=timeout, context=self._tls_context())
            else:
                conn = HTTPConnection(host, port, timeout=timeout)
            pool[(scheme, host, port)] = conn
        elif conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # the server closed the idle connection: a new one, before anything is sent
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = self._tls_factory()
        return self._tls


def _closed_by_peer(sock: Any) -> bool:
    """An idle kept-alive socket that is readable has been closed (or sent garbage): do not reuse it."""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
