"""The local release steps for real: alembic as a subprocess, the api under uvicorn, /health polled."""

from __future__ import annotations

import pytest

from pmis_deploy import db
from pmis_deploy.errors import ReleaseFailed
from pmis_deploy.health import wait_healthy
from pmis_deploy.localrun import api_process, run_migration
from pmis_deploy.shell import Runner
from tests.fixtures.postgres import free_port

pytestmark = pytest.mark.integration


def test_migration_subprocess_reaches_head_and_reruns_cleanly(pg_url: str) -> None:
    runner = Runner(echo=False)
    assert run_migration(pg_url, runner) == "0002"
    assert db.current_heads(pg_url) == ("0002",)
    assert run_migration(pg_url.replace("postgresql+psycopg", "postgres"), runner) == "0002"
    assert runner.history[0][1:] == ("-m", "alembic", "upgrade", "head")
    assert not any("postgres@" in part for part in runner.history[0])  # the URL is in env, not argv


def test_migration_failure_is_release_failed_with_stderr_and_no_password() -> None:
    url = "postgresql://app:Sup3rSecretPw@127.0.0.1:1/pmis"  # pragma: allowlist secret
    with pytest.raises(ReleaseFailed) as caught:
        run_migration(url, Runner(echo=False))
    text = caught.value.render()
    assert "the migration failed (exit 1): alembic upgrade head" in text
    assert "OperationalError" in text or "connection" in text.lower()
    assert "Sup3rSecretPw" not in text


def test_dry_run_runs_nothing_and_reports_the_head(pg_url: str) -> None:
    assert run_migration(pg_url, Runner(dry_run=True, echo=False)) == "0002"
    assert db.current_heads(pg_url) == ()


def test_real_api_process_is_healthy_at_head(pg_url: str) -> None:
    run_migration(pg_url, Runner(echo=False))
    with api_process(pg_url, free_port()) as base:
        body = wait_healthy(base, timeout=20, interval=0.2)
    assert body == {"status": "healthy", "database": "connected", "migration_version": "0002"}


def test_real_api_behind_head_fails_the_wait_with_its_reason(pg_url: str) -> None:
    db.upgrade(pg_url, "0001")
    seen: list[int | None] = []
    with api_process(pg_url, free_port()) as base, pytest.raises(ReleaseFailed) as caught:
        wait_healthy(base, timeout=1.5, interval=0.3, on_attempt=lambda status, _reason: seen.append(status))
    assert "last HTTP 503: database is behind: at 0001, head is 0002" in caught.value.render()
    assert seen and set(seen) == {503}


def test_api_that_cannot_start_is_reported_with_its_log(pg_url: str) -> None:
    with pytest.raises(ReleaseFailed) as caught, api_process(pg_url, free_port(), log_level="loud"):
        pass  # an unknown LOG_LEVEL makes the app's start-up fail
    text = caught.value.render()
    assert "the api exited with code" in text
    assert "Unknown level: 'LOUD'" in text


def test_a_taken_port_is_refused_before_starting() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ReleaseFailed, match="the port is in use"), api_process("postgresql://u@h/d", port):
            pass
