"""The HTTP client connectors call the platforms with.

A `requests.Session` (uploads, downloads, proxies) with one more method, `post_json`, for the call every
reply makes: a JSON POST over a kept-alive http.client connection per thread and host. requests' session
machinery (hooks, cookies, adapters, urllib3 pools) costs about 0.6 ms of CPU per call, as much as the
rest of sending a reply; on a 2-core machine shared with the NLU server that is turns per second.
"""

from __future__ import annotations

import json
import os
import select
import ssl
import threading
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests


@dataclass(frozen=True)
class JsonAnswer:
    """The part of a `requests.Response` the connectors read."""

    status_code: int
    headers: Message
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return json.loads(self.content)


class PlatformSession(requests.Session):
    """requests for everything, plus a lean keep-alive path for JSON POSTs (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        # Proxies and CA bundle read once: requests re-reads the environment on every call otherwise.
        self.proxies.update(requests.utils.get_environ_proxies("https://example.org"))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.verify = bundle
        self.trust_env = False
        self._local = threading.local()
        self._tls: ssl.SSLContext | None = None

    def post_json(self, url: str, body: Any, *, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None,
                  timeout: float | tuple[float, float] = 15.0) -> JsonAnswer | requests.Response:
        """POST `body` as JSON. Raises requests.ConnectionError / Timeout like requests does."""
        parts = urlsplit(url)
        if self.proxies.get(parts.scheme) or parts.scheme not in ("http", "https"):
            return self.post(url, params=params, json=body, headers=headers, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        payload = json.dumps(body, ensure_ascii=False).encode()
        sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        connect_timeout = timeout[0] if isinstance(timeout, tuple) else timeout
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port, connect_timeout)
        try:
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            conn.request("POST", target, body=payload, headers=sent)
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            response = conn.getresponse()
            content = response.read()
        except TimeoutError as exc:
            self._drop(conn)
            raise requests.Timeout(str(exc)) from exc
        except (OSError, HTTPException) as exc:
            self._drop(conn)
            raise requests.ConnectionError(f"{exc.__class__.__name__}: {exc}") from exc
        if response.will_close:
            self._drop(conn)
        return JsonAnswer(response.status, response.msg, content)

    def _connection(self, scheme: str, host: str, port: int | None, timeout: float) -> HTTPConnection:
        pool: dict[tuple[str, str, int | None], HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # the server closed the idle connection: a new one, before anything is sent
        if conn is None:
            if scheme == "https":
                conn = HTTPSConnection(host, port, timeout=timeout, context=self._tls_context())
            else:
                conn = HTTPConnection(host, port, timeout=timeout)
            pool[key] = conn
        return conn

    def _drop(self, conn: HTTPConnection) -> None:
        conn.close()  # http.client reconnects on the next request

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            if self.verify is False:
                context = ssl._create_unverified_context()
            else:
                cafile = self.verify if isinstance(self.verify, str) else requests.certs.where()
                context = ssl.create_default_context(cafile=cafile)
            self._tls = context
        return self._tls


def _closed_by_peer(sock: Any) -> bool:
    """An idle kept-alive socket that is readable has been closed (or sent garbage): do not reuse it."""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
