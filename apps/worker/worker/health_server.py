"""A tiny HTTP listener for platforms that probe a port (a Cloud Run service sets PORT).

A Celery worker serves no HTTP, but Cloud Run only starts a revision whose container listens on $PORT.
When PORT is set, the worker answers GET / with 200 once it is ready (celery's worker_ready signal);
without PORT (ECS, compose) nothing listens.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        payload = json.dumps({"status": "alive", "service": "worker"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: keep logs quiet
        pass


def start(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 (the platform probes it)
    """Serve the liveness answer on `port` in a daemon thread; returns the server (call shutdown())."""
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()
    return server


def start_from_env(**_: Any) -> ThreadingHTTPServer | None:
    """The worker_ready signal handler: listen on $PORT when it is set."""
    port = os.environ.get("PORT")
    return start(int(port)) if port else None
