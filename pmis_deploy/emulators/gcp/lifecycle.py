"""The detached embedded GCP of the `local` environment: `<state_dir>/gcp/`, port `local.gcp_port`."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy.emulators.daemon import DetachedServer, code_version, state_root

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

PROBE_PATH = "/_fake/health"


def server(settings: Settings) -> DetachedServer:
    """The detached fake of these settings; its state survives restarts in `<state_dir>/gcp/state.json`."""
    port = settings.local.gcp_port
    directory = state_root(settings) / "gcp"
    argv = [
        sys.executable,
        "-m",
        "pmis_deploy.emulators.gcp",
        "--port",
        str(port),
        "--state-file",
        str(directory / "state.json"),
    ]
    package = Path(__file__).resolve().parent
    return DetachedServer("gcp", directory, port, argv, probe_path=PROBE_PATH, version=code_version(package))


def ensure_running(settings: Settings) -> str:
    """The URL of the embedded GCP (http://127.0.0.1:<gcp_port>), started detached if not running."""
    return server(settings).ensure_running().url


def stop(settings: Settings) -> bool:
    """Stop the embedded GCP (its snapshot stays in state.json). False if it was not running."""
    return server(settings).stop()


def status(settings: Settings) -> dict[str, Any]:
    """running, pid, url, uptime_seconds, cold_start_seconds, log, resources (rows per state table)."""
    return server(settings).status()


def set_knobs(url: str, **values: Any) -> dict[str, Any]:
    """Change knobs of the fake at `url` over HTTP (POST /_fake/knobs); returns all knobs."""
    return _call(url, "POST", "/_fake/knobs", values)


def reset(url: str) -> None:
    """Forget every resource, request and knob of the fake at `url`."""
    _call(url, "POST", "/_fake/reset", {})


def requests(url: str, api: str | None = None) -> list[dict[str, Any]]:
    """The request log of the fake at `url` (passwords and secret payloads redacted)."""
    query = f"?api={api}" if api else ""
    return list(_call(url, "GET", f"/_fake/requests{query}", None).get("requests", []))


def _call(url: str, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310  (a loopback URL we were given)
        url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer = json.loads(response.read() or b"{}")
    return answer if isinstance(answer, dict) else {}
