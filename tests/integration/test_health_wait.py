"""wait_healthy against a real HTTP server on loopback: recovery, timeout with the reason, no server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pmis_deploy.errors import ReleaseFailed
from pmis_deploy.health import wait_healthy
from tests.fixtures.postgres import free_port

pytestmark = pytest.mark.integration


class _Scripted(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str]]] = []

    def do_GET(self) -> None:
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def scripted_server() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"answers": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_returns_the_body_once_the_service_recovers(scripted_server: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted_server
    handler.answers = [(503, {"status": "unhealthy", "reason": "database unreachable"})] * 2 + [
        (200, {"status": "healthy", "migration_version": "0002"})
    ]
    attempts: list[tuple[int | None, str]] = []
    body = wait_healthy(url, timeout=10, interval=0.05, on_attempt=lambda s, r: attempts.append((s, r)))
    assert body == {"status": "healthy", "migration_version": "0002"}
    assert attempts == [(503, "database unreachable")] * 2


def test_times_out_naming_the_last_status_and_reason(scripted_server: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted_server
    handler.answers = [(503, {"status": "unhealthy", "reason": "database is behind: at 0001, head is 0002"})]
    with pytest.raises(ReleaseFailed) as caught:
        wait_healthy(url, path="/health", timeout=0.5, interval=0.1)
    assert f"{url}/health was not healthy within 0s: last HTTP 503: database is behind" in caught.value.render()


def test_no_server_is_a_connection_failure() -> None:
    with pytest.raises(ReleaseFailed, match="last no HTTP answer: connection refused"):
        wait_healthy(f"http://127.0.0.1:{free_port()}", timeout=0.3, interval=0.1)
