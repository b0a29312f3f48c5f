"""The throwaway PostgreSQL cluster: start, idempotent start, databases, stop/start."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from pmis_deploy.emulators.postgres import PostgresCluster
from pmis_deploy.errors import ConfigError
from tests.fixtures.postgres import free_port

pytestmark = pytest.mark.integration


def test_cluster_serves_queries_on_loopback(pg_cluster: PostgresCluster) -> None:
    assert pg_cluster.is_running()
    with psycopg.connect(pg_cluster.url().replace("+psycopg", "")) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert version is not None and version[0].startswith("15.")
    assert listen == ("127.0.0.1",)


def test_ensure_running_and_create_database_are_idempotent(pg_cluster: PostgresCluster) -> None:
    assert pg_cluster.ensure_running() is False  # already running: nothing to do
    assert pg_cluster.create_database("idempotent_db") is True
    assert pg_cluster.create_database("idempotent_db") is False
    pg_cluster.drop_database("idempotent_db")
    assert pg_cluster.create_database("idempotent_db") is True
    pg_cluster.drop_database("idempotent_db")


def test_a_new_cluster_initialises_starts_stops_and_restarts_with_its_data() -> None:
    base = Path(tempfile.mkdtemp(prefix="pmis-pg-own-"))
    base.chmod(0o755)  # the postgres user must be able to reach the cluster directory
    cluster = PostgresCluster(base / "postgres", free_port())
    try:
        assert cluster.is_running() is False
        assert cluster.ensure_running() is True
        assert (cluster.data_dir / "PG_VERSION").read_text().strip() == "15"
        cluster.create_database("pmis")
        assert cluster.stop() is True
        assert cluster.is_running() is False
        assert cluster.stop() is False
        assert cluster.ensure_running() is True  # no second initdb: the data survives
        assert cluster.create_database("pmis") is False
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="only root hands the directory to postgres")
def test_an_unreachable_directory_is_refused_with_the_fix() -> None:
    base = Path(tempfile.mkdtemp(prefix="pmis-pg-closed-"))  # mode 0700, owned by root
    try:
        with pytest.raises(ConfigError, match="cannot enter") as caught:
            PostgresCluster(base / "postgres", free_port()).ensure_running()
        assert "chmod o+x" in (caught.value.hint or "")
    finally:
        shutil.rmtree(base, ignore_errors=True)
