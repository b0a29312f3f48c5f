"""The detached embedded AWS: started on demand, found again by the next command, stopped."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest

from pmis_deploy.aws.session import AwsClients
from pmis_deploy.aws.settings import AwsSettings
from pmis_deploy.config import LocalSettings, Settings
from pmis_deploy.emulators import aws
from pmis_deploy.emulators.daemon import _alive

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # it would win over "embedded"
    return Settings(
        environment="local",
        aws=AwsSettings(endpoint_url="embedded"),
        local=LocalSettings(state_dir=str(tmp_path / "state"), aws_port=_free_port()),
    )


def test_ensure_running_starts_once_keeps_state_and_stops(local_settings: Settings) -> None:
    try:
        url = aws.ensure_running(local_settings)
        first = aws.server(local_settings).read_record()
        assert first is not None and _alive(first.pid)
        assert url == f"http://127.0.0.1:{local_settings.local.aws_port}"
        assert first.cold_start_seconds is not None and first.cold_start_seconds < 20

        ecs = boto3.client(
            "ecs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        ecs.create_cluster(clusterName="kept")

        clients = AwsClients.for_settings(local_settings)  # aws.endpoint_url = "embedded"
        assert clients.endpoint_url == url
        assert clients.client("ecs").list_clusters()["clusterArns"][0].endswith("/kept")

        assert aws.ensure_running(local_settings) == url  # a second command reuses it
        second = aws.server(local_settings).read_record()
        assert second is not None and second.pid == first.pid
        assert ecs.describe_clusters(clusters=["kept"])["clusters"][0]["status"] == "ACTIVE"  # state kept

        info = aws.status(local_settings)
        assert info["running"] is True and info["pid"] == first.pid
        assert info["resources"]["ecs_clusters"] == 1
        log = Path(info["log"])
        assert log.is_file() and "pmis embedded AWS" in log.read_text()
    finally:
        stopped = aws.stop(local_settings)
    assert stopped is True
    assert not _alive(first.pid)
    assert aws.status(local_settings)["running"] is False
    assert aws.stop(local_settings) is False


def test_port_taken_by_another_program_is_a_clear_error(local_settings: Settings) -> None:
    from pmis_deploy.errors import DeployError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", local_settings.local.aws_port))
        busy.listen()
        with pytest.raises(DeployError, match="used by another program"):
            aws.ensure_running(local_settings)


def test_changed_port_replaces_the_old_server(tmp_path: Path) -> None:
    """Generic DetachedServer behaviour, with Python's http.server as a fast stand-in daemon."""
    import sys

    from pmis_deploy.emulators.daemon import DetachedServer

    def server(port: int) -> DetachedServer:
        argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
        return DetachedServer("web", tmp_path, port, argv, probe_path="/")

    first = server(_free_port())
    old = first.ensure_running()
    assert first.ensure_running().pid == old.pid
    second = server(_free_port())
    try:
        new = second.ensure_running()
        assert new.pid != old.pid and new.port == second.port
        assert not _alive(old.pid)  # no orphan left on the old port
    finally:
        assert second.stop() is True
    assert not _alive(new.pid)
