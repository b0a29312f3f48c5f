"""`inv local.up / status / down`: detached embedded AWS and GCP and a local PostgreSQL, for real.

The lifecycle is driven through the domain functions (each `inv` start costs seconds); the task
wiring is checked with the real `inv` on calls that start nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmis_deploy.config import LocalSettings, Settings
from pmis_deploy.emulators import local

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).with_name("inv"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def state_dir() -> Iterator[Path]:
    state = Path(tempfile.mkdtemp(prefix="pmis-local-test-"))
    state.chmod(0o755)  # the postgres user must reach state/postgres
    yield state
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def settings(state_dir: Path) -> Iterator[Settings]:
    """`local` settings with their own state dir and free ports (never the defaults 5055/55432/5056)."""
    ports = {"aws_port": _free_port(), "postgres_port": _free_port(), "gcp_port": _free_port()}
    settings = Settings(environment="local", local=LocalSettings(state_dir=str(state_dir), **ports))
    yield settings
    local.down(settings)  # whatever a failed test left running


def test_up_reuses_and_down_stops_everything(settings: Settings) -> None:
    only_aws = local.up(settings, ["aws"])
    assert [row.name for row in only_aws] == ["aws"] and only_aws[0].running and only_aws[0].changed
    assert only_aws[0].endpoint == f"http://127.0.0.1:{settings.local.aws_port}"
    assert only_aws[0].extra["cold_start_seconds"] > 0
    status = {row.name: row for row in local.status(settings)}
    assert status["aws"].running and not status["postgres"].running
    if not Path("/usr/lib/postgresql/15/bin/pg_ctl").is_file():
        pytest.skip("PostgreSQL 15 server binaries are not installed")

    up = {row.name: row for row in local.up(settings)}  # the running AWS is found again, not restarted
    assert up["aws"].pid == only_aws[0].pid and not up["aws"].changed
    assert up["postgres"].running and up["postgres"].changed
    assert up["postgres"].endpoint.endswith(f"{settings.local.postgres_port}/pmis")
    assert up["gcp"].running or not up["gcp"].available
    assert not local.up(settings, ["postgres"])[0].changed
    assert local.ensure_database(settings) == settings.local.database_url.get_secret_value()  # idempotent

    down = {row.name: row for row in local.down(settings)}
    assert down["aws"].changed and not down["aws"].running
    assert down["postgres"].changed and not down["postgres"].running
    assert not any(row.running for row in local.status(settings))


def _inv(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PMIS_LOCAL__STATE_DIR": str(state_dir), "PMIS_LOCAL__AWS_PORT": str(_free_port())}
    env["PMIS_LOCAL__POSTGRES_PORT"], env["PMIS_LOCAL__GCP_PORT"] = str(_free_port()), str(_free_port())
    env.pop("PMIS_ENV", None)
    return subprocess.run([INV, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_inv_local_status_json_and_unknown_piece(state_dir: Path) -> None:
    status = _inv(state_dir, "local.status", "--json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert [row["name"] for row in rows] == ["aws", "postgres", "gcp"]
    assert not any(row["running"] for row in rows)
    bad = _inv(state_dir, "local.up", "--only", "azure")
    assert bad.returncode == 1 and "unknown local piece(s): azure" in bad.stderr
