"""PlatformSession.post_json: keep-alive, a connection closed while idle, errors as requests raises them."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.http import PlatformSession


class Server:
    """Answers every POST with what it received; counts the TCP connections it accepted."""

    def __init__(self, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1
                server.sockets.append(self.connection)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(server.delay)
                answer = json.dumps({"path": self.path, "body": json.loads(body),
                                     "type": self.headers["Content-Type"],
                                     "token": self.headers.get("access_token")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.delay = delay
        self.connections = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close_idle_connections(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def test_json_posts_share_one_kept_alive_connection(server: Server) -> None:
    http = PlatformSession()
    for n in range(3):
        answer = http.post_json(f"{server.url}/v3.0/oa/message/cs", {"text": f"Xin chào {n}"},
                                headers={"access_token": "tok"}, params={"a": "1"})
        assert answer.status_code == 200 and answer.ok
        assert answer.json() == {"path": "/v3.0/oa/message/cs?a=1", "body": {"text": f"Xin chào {n}"},
                                 "type": "application/json", "token": "tok"}
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(server: Server) -> None:
    http = PlatformSession()
    http.post_json(f"{server.url}/a", {"n": 1})
    server.close_idle_connections()  # as a server's keep-alive timeout would
    time.sleep(0.1)
    assert http.post_json(f"{server.url}/a", {"n": 2}).json()["body"] == {"n": 2}
    assert server.connections == 2


def test_errors_are_the_ones_requests_raises() -> None:
    http = PlatformSession()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        http.post_json(f"http://127.0.0.1:{closed_port}/", {})
    slow = Server(delay=1.0)
    try:
        with pytest.raises(requests.Timeout):
            http.post_json(f"{slow.url}/", {}, timeout=(1.0, 0.2))
    finally:
        slow.stop()


def test_with_a_proxy_configured_the_call_goes_through_requests(server: Server) -> None:
    http = PlatformSession()
    http.proxies["http"] = "http://127.0.0.1:9"  # nothing listens there: only the proxy path can fail
    with pytest.raises(requests.ConnectionError):
        http.post_json(f"{server.url}/", {})
    assert server.connections == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_verifies_the_server_against_the_configured_bundle(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = Server(tls=tls)
    try:
        trusting = PlatformSession()
        trusting.verify = str(cert)  # as REQUESTS_CA_BUNDLE would set it
        for n in range(2):
            assert trusting.post_json(f"{server.url}/me/messages", {"n": n}).json()["body"] == {"n": n}
        assert server.connections == 1
        with pytest.raises(requests.ConnectionError):  # a certificate nobody vouches for is refused
            PlatformSession().post_json(f"{server.url}/me/messages", {"n": 9})
    finally:
        server.stop()
