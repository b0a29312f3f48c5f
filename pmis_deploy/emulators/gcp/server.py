"""The HTTP server: gcloud's HTTP proxy and every API endpoint at once, plus the /_fake control endpoints.

With CLOUDSDK_PROXY_* pointing here, gcloud sends absolute URLs (`GET http://us-central1-run.fake/run/…`,
`GET http://127.0.0.1:P/sql/…`); the first path segment names the API, a `{region}-run.` host the region.
APIs without an override property (Service Networking) arrive as `CONNECT <host>:443`: the fake answers,
speaks TLS in the tunnel with a certificate of its own CA (tls.py) and names the API by the host.
"""

from __future__ import annotations

import json
import os
import re
import socketserver
import ssl
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pmis_deploy.emulators.gcp.apis import ROUTERS, TUNNELED_ROUTERS
from pmis_deploy.emulators.gcp.apis.serviceusage import API_SERVICES, disabled_error, is_enabled
from pmis_deploy.emulators.gcp.core import DEFAULT_PROJECT, JSON, ApiError, Call, Raw, Reply, project_id
from pmis_deploy.emulators.gcp.state import Store, redact
from pmis_deploy.emulators.gcp.tls import FakeCa

_REGIONAL_HOST = re.compile(r"^(.+?)-run\.")
_PROJECT_IN_PATH = re.compile(r"(?:^|/)(?:projects|namespaces)/([^/:]+)")
STARTED_AT = time.time()
READ_ONLY_POSTS = (":getIamPolicy", ":testIamPermissions")
# API name (the host's first label) -> router, for the APIs served inside CONNECT tunnels.
_TUNNELED_APIS = {host.split(".")[0]: router for host, router in TUNNELED_ROUTERS.items()}


def parse_qs_one(url: str, name: str) -> str | None:
    """One query parameter of a request target (None when absent)."""
    return dict(parse_qsl(urlsplit(url).query)).get(name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.ca = FakeCa(tuple(TUNNELED_ROUTERS))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60
    tunnel_host = ""  # set inside a CONNECT tunnel: the real API host gcloud asked for

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log at /_fake/requests replaces the access log."""

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0].lower()
        if self.server.ca.serves(host) and not self.tunnel_host:
            self._open_tunnel(host)
            return
        self.server.store.record(
            {"method": "CONNECT", "host": self.path, "path": "", "status": 405, "time": time.time()}
        )
        message = (
            f"The local GCP fake does not tunnel HTTPS ({self.path}): every API gcloud uses must have an "
            "http:// CLOUDSDK_API_ENDPOINT_OVERRIDES_<API> (see pmis_deploy.emulators.gcp.gcloud_env) or be "
            "served in the tunnel (apis.TUNNELED_ROUTERS)."
        )
        self._send(405, ApiError(405, "METHOD_NOT_ALLOWED", message).body(), close=True)

    def _open_tunnel(self, host: str) -> None:
        """Answer the CONNECT, then read this connection's next requests through TLS as `host`."""
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.server.ca.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):  # the client does not trust the fake's CA: it says so itself
            self.close_connection = True
            return
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = socketserver._SocketWriter(tls)  # type: ignore[attr-defined]  # what setup() uses
        self.tunnel_host = host
        self.close_connection = False  # even after an HTTP/1.0 CONNECT (http.client sends one)

    def finish(self) -> None:
        super().finish()
        if self.tunnel_host:
            self.connection.close()  # the TLS socket detached the one the server will shut down

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ------------------------------------------------------------------ plumbing

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, *, close: bool = False) -> None:
        if isinstance(body, Raw):
            data, ctype, extra = body.data, body.content_type, body.headers
        else:
            data, ctype, extra = json.dumps(body).encode(), "application/json; charset=UTF-8", {}
        if status == 204:
            data = b""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        host = self.tunnel_host or (split.netloc or self.headers.get("Host", "")).lower()
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        raw = self._read_body()
        body: Any = None
        if raw and ("json" in self.headers.get("Content-Type", "json") or raw[:1] in (b"{", b"[")):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        api, _, rest = split.path.lstrip("/").partition("/")
        if self.tunnel_host:
            api, rest = self.tunnel_host.split(".")[0], split.path.lstrip("/")
        if api in ("upload", "download") and rest.startswith("storage/"):
            api, rest = "storage", f"{api}/{rest}"  # gcloud storage drops the override's path for media
        store = self.server.store
        if api == "_fake":
            status, reply = self._control(rest, body)
            self._send(status, reply)
            return
        match = _REGIONAL_HOST.match(host.split(":")[0])
        call = Call(
            store=store,
            method=self.command,
            host=host,
            api=api,
            path=rest,
            query=query,
            body=body,
            raw=raw,
            headers={k.lower(): v for k, v in self.headers.items()},
            region=match.group(1) if match else None,
        )
        with store.lock:
            status, reply = self._dispatch(call)
            store.record(
                {
                    "time": time.time(),
                    "method": self.command,
                    "host": host,
                    "api": api,
                    "region": call.region,
                    "path": split.path,
                    "query": query,
                    "body": redact(body) if body is not None else (f"<{len(raw)} bytes>" if raw else None),
                    "status": status,
                }
            )
            if self.command != "GET" and status < 400:
                store.save()
        self._send(status, reply)

    def _dispatch(self, call: Call) -> tuple[int, Any]:
        router = ROUTERS.get(call.api) or _TUNNELED_APIS.get(call.api)
        try:
            if router is None:
                raise ApiError(404, "NOT_FOUND", f"The fake GCP does not serve the API prefix /{call.api}/.")
            service = API_SERVICES.get(call.api)
            found = _PROJECT_IN_PATH.search(call.path)
            project = project_id(found.group(1)) if found else DEFAULT_PROJECT
            if service and not is_enabled(call.store, project, service):
                raise disabled_error(project, service)
            reply: Reply = router.dispatch(call)
        except ApiError as error:
            return error.code, error.body()
        except Exception as error:  # a fake bug must reach the test as a 500 with the traceback
            message = f"fake GCP internal error: {error!r}\n{traceback.format_exc()}"
            return 500, ApiError(500, "INTERNAL", message).body()
        if isinstance(reply, Raw):
            return reply.status, reply
        return reply

    def _control(self, rest: str, body: Any) -> tuple[int, Any]:
        store = self.server.store
        with store.lock:
            if rest == "health":
                resources = {name: len(rows) for name, rows in store.tables.items() if rows}
                return 200, {"ok": True, "pid": os.getpid(), "started_at": STARTED_AT, "resources": resources}
            if rest == "requests" and self.command == "GET":
                api = parse_qs_one(self.path, "api")
                return 200, {"requests": [r for r in store.log if api is None or r.get("api") == api]}
            if rest == "requests" and self.command == "DELETE":
                store.log.clear()
                return 200, {}
            if rest == "knobs":
                if self.command == "POST":
                    try:
                        store.knobs.update(body or {})
                    except ApiError as error:
                        return error.code, error.body()
                    store.save()
                return 200, asdict(store.knobs)
            if rest == "reset" and self.command == "POST":
                store.reset()
                return 200, {}
            if rest == "state":
                return 200, redact(store.dump())
            if rest == "ca.pem":
                return 200, Raw(200, self.server.ca.ca_pem.encode(), "application/x-pem-file")
        return 404, ApiError(404, "NOT_FOUND", f"No control endpoint /_fake/{rest}.").body()


class FakeGcp:
    """An in-process fake GCP server (threads). Use `running_fake()` rather than start/stop by hand."""

    def __init__(self, port: int = 0, snapshot: Path | None = None, host: str = "127.0.0.1") -> None:
        self.store = Store(snapshot)
        self._server = _Server((host, port), self.store)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str:
        """The CA certificate gcloud must trust for the APIs served through CONNECT (tls.py)."""
        return self._server.ca.ca_pem

    def start(self) -> FakeGcp:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gcp", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------ test helpers

    def requests(self, api: str | None = None) -> list[JSON]:
        """The request log (bodies redacted), optionally only one API prefix ("sql", "run" …)."""
        with self.store.lock:
            return [dict(r) for r in self.store.log if api is None or r.get("api") == api]

    def writes(self, since: int = 0) -> list[str]:
        """`METHOD path` of each logged request from index `since` on that may change state: every method
        but GET, except the POSTs that only read (getIamPolicy, testIamPermissions)."""
        return [
            f"{r['method']} {r.get('path')}"
            for r in self.requests()[since:]
            if r["method"] != "GET" and not str(r.get("path", "")).endswith(READ_ONLY_POSTS)
        ]

    def set_knob(self, name: str, value: Any) -> None:
        """Set one knob (see state.Knobs for the names)."""
        with self.store.lock:
            self.store.knobs.update({name: value})
            self.store.save()

    def reset(self) -> None:
        """Forget every resource, request and knob."""
        self.store.reset()

    def table(self, name: str) -> dict[str, Any]:
        """A state table ("run.services", "sql.instances" …) for white-box assertions."""
        return self.store.table(name)

    def env(self, config_dir: str | Path, project: str = DEFAULT_PROJECT) -> dict[str, str]:
        """The environment gcloud needs to talk to this fake (see gcloud_env)."""
        from pmis_deploy.emulators.gcp.env import gcloud_env

        return gcloud_env(self.port, config_dir, project=project, ca_pem=self.ca_pem)


@contextmanager
def running_fake(port: int = 0, snapshot: Path | None = None) -> Iterator[FakeGcp]:
    """Run a FakeGcp in this process for the duration of the block."""
    fake = FakeGcp(port, snapshot).start()
    try:
        yield fake
    finally:
        fake.stop()
