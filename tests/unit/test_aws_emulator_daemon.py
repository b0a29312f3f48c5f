"""Detached-server bookkeeping: state dir resolution, records, liveness, local status helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pmis_deploy.config import LocalSettings, Settings
from pmis_deploy.emulators import daemon, local


def _settings(**values: object) -> Settings:
    return Settings(environment="local", local=LocalSettings(**values))


def test_state_root_is_absolute_or_under_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert daemon.state_root(_settings(state_dir=str(tmp_path))) == tmp_path
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root / "tests")
    assert daemon.state_root(_settings()) == root / ".pmis-local"


def test_record_round_trip_and_no_record(tmp_path: Path) -> None:
    server = daemon.DetachedServer("x", tmp_path, 1, ["python", "-m", "x"])
    assert server.read_record() is None and server.running() is None
    assert server.status() == {"name": "x", "running": False, "url": "http://127.0.0.1:1", "log": None}
    record = daemon.ServerRecord(pid=os.getpid(), port=1, url=server.url, argv=server.argv, started_at=0.0)
    server._write(record)
    assert server.read_record() == record
    assert server.pid_path.read_text() == f"{os.getpid()}\n"
    assert server.running() is None  # recorded and alive, but nothing answers on port 1


def test_alive_and_terminate_a_child() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    daemon._children[proc.pid] = proc
    assert daemon._alive(proc.pid)
    daemon._terminate(proc.pid)
    assert not daemon._alive(proc.pid)
    assert proc.returncode is not None


def test_stop_does_not_kill_a_process_that_is_not_ours(tmp_path: Path) -> None:
    server = daemon.DetachedServer("x", tmp_path, 1, [sys.executable, "-m", "pmis_deploy.emulators.nothing"])
    server._write(daemon.ServerRecord(pid=os.getpid(), port=1, url=server.url, argv=server.argv, started_at=0.0))
    assert server.stop() is False  # the pid is this pytest process (reused pid): left alone
    assert server.read_record() is None


def test_local_helpers() -> None:
    assert local.database_name(_settings()) == "pmis"
    assert local.database_name(_settings(database_url="postgresql+psycopg://u@h:1/other")) == "other"
    assert local._duration(None) == "" and local._duration(75) == "1m15s" and local._duration(3700) == "1h01m"
    names = [piece.name for piece in local.pieces(_settings())]
    assert names == ["aws", "postgres", "gcp"]


def test_recorded_server_that_never_answers_is_a_clear_error(tmp_path: Path) -> None:
    from pmis_deploy.errors import DeployError

    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    proc = subprocess.Popen(argv)
    daemon._children[proc.pid] = proc
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = daemon.DetachedServer("x", tmp_path, port, argv, ready_timeout=0.3)
    server._write(daemon.ServerRecord(pid=proc.pid, port=port, url=server.url, argv=argv, started_at=0.0))
    try:
        with pytest.raises(DeployError, match=rf"pid {proc.pid}\) runs but does not answer"):
            server.ensure_running()
        assert server.stop() is True
    finally:
        daemon._terminate(proc.pid)
    assert proc.returncode is not None


def test_aws_endpoint_url_wins_over_the_embedded_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.aws.settings import AwsSettings

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    settings = Settings(
        environment="local", aws=AwsSettings(endpoint_url="embedded"), local=LocalSettings(state_dir=str(tmp_path))
    )
    assert AwsClients.for_settings(settings).endpoint_url == "http://127.0.0.1:4566"
    assert not (tmp_path / "aws").exists()  # no emulator was started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_started_from_other_code_is_restarted(tmp_path: Path) -> None:
    port = _free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    said: list[str] = []

    def server(version: str | None) -> daemon.DetachedServer:
        return daemon.DetachedServer("t", tmp_path, port, argv, version=version, announce=said.append)

    first = server("v1").ensure_running()
    try:
        assert first.version == "v1"
        assert server("v1").ensure_running().pid == first.pid  # same code: reused
        second = server("v2").ensure_running()  # the checkout changed under a running server
        assert second.pid != first.pid and second.version == "v2"
        assert not daemon._alive(first.pid)
        assert any("restarting the local t emulator" in line for line in said)
        assert server(None).ensure_running().pid == second.pid  # no version: never restarted for code
    finally:
        server(None).stop()


def test_code_version_follows_the_sources(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    before = daemon.code_version(tmp_path / "pkg", extra="moto 5")
    assert daemon.code_version(tmp_path / "pkg", extra="moto 5") == before
    assert daemon.code_version(tmp_path / "pkg", extra="moto 6") != before
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert daemon.code_version(tmp_path / "pkg", extra="moto 5") != before
