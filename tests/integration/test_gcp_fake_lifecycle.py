"""The detached embedded GCP of the `local` environment: started once, reused, stopped, state kept."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from pmis_deploy.config import LocalSettings, Settings
from pmis_deploy.emulators import gcp
from pmis_deploy.emulators.daemon import _alive
from pmis_deploy.emulators.gcp.lifecycle import server

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310  (loopback http only)
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def test_ensure_running_reuses_stops_and_keeps_a_snapshot(tmp_path: Path) -> None:
    settings = Settings(
        environment="local", local=LocalSettings(state_dir=str(tmp_path / "state"), gcp_port=_free_port())
    )
    try:
        url = gcp.ensure_running(settings)
        assert url == f"http://127.0.0.1:{settings.local.gcp_port}"
        record = server(settings).read_record()
        assert record is not None and _alive(record.pid)
        assert gcp.ensure_running(settings) == url
        assert server(settings).read_record() == record  # the same process, not a second one

        _post(f"{url}/secretmanager/v1/projects/pmis-local/secrets?secretId=kept", {"replication": {"automatic": {}}})
        assert gcp.set_knobs(url, run_polls=2)["run_polls"] == 2
        assert [r["path"] for r in gcp.requests(url, api="secretmanager")] == [
            "/secretmanager/v1/projects/pmis-local/secrets"
        ]
        info = gcp.status(settings)
        assert info["running"] is True and info["resources"] == {"secretmanager.secrets": 1}
        assert Path(info["log"]).parent == tmp_path / "state" / "gcp"

        assert gcp.stop(settings) is True
        assert not _alive(record.pid)
        assert gcp.status(settings)["running"] is False

        # A restart loads the snapshot: what `local` created survives `inv local.down` / up.
        gcp.ensure_running(settings)
        with urllib.request.urlopen(f"{url}/secretmanager/v1/projects/pmis-local/secrets/kept", timeout=10) as got:  # noqa: S310
            assert json.loads(got.read())["name"].endswith("/secrets/kept")
    finally:
        gcp.stop(settings)
