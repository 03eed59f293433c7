"""The HTTP client connectors call the platforms with.

A `requests.Session` (uploads, downloads, proxies) with one more method, `post_json`, for the call every
reply makes: through `bot.keepalive`, a JSON POST over a kept-alive connection, unless a proxy is set.
"""

from __future__ import annotations

import os
import ssl
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import requests

from bot.keepalive import JsonAnswer, KeptAlive


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
        self._kept = KeptAlive(tls=self._tls_context)

    def post_json(self, url: str, body: Any, *, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None,
                  timeout: float | tuple[float, float] = 15.0) -> JsonAnswer | requests.Response:
        """POST `body` as JSON. Raises requests.ConnectionError / Timeout like requests does."""
        scheme = urlsplit(url).scheme
        if self.proxies.get(scheme) or scheme not in ("http", "https"):
            return self.post(url, params=params, json=body, headers=headers, timeout=timeout)
        try:
            return self._kept.post_json(url, body, params=params, headers=headers, timeout=timeout)
        except TimeoutError as exc:
            raise requests.Timeout(str(exc)) from exc
        except (OSError, HTTPException) as exc:
            raise requests.ConnectionError(f"{exc.__class__.__name__}: {exc}") from exc

    def _tls_context(self) -> ssl.SSLContext:
        """As requests would verify: the configured bundle, or certifi's; none when verify is False."""
        if self.verify is False:
            return ssl._create_unverified_context()
        return ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str)
                                          else requests.certs.where())


def retry_after(resp: requests.Response | JsonAnswer) -> float | None:
    """The seconds a platform's Retry-After header asks us to wait, if it sent a number."""
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None
