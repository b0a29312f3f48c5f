"""/health is 200 only at the Alembic head with the database up; 503 (a real status) otherwise."""

from __future__ import annotations

import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.migrations import code_heads, upgrade
from app.settings import Settings
from pmis_deploy.emulators.postgres import PostgresCluster

pytestmark = pytest.mark.integration


def _client(url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=url)))


def test_head_is_healthy(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "healthy",
        "database": "connected",
        "migration_version": ",".join(sorted(code_heads())),
    }


def test_empty_database_is_503(pg_url: str) -> None:
    with _client(pg_url) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert "no migrations applied" in response.json()["reason"]


def test_behind_head_is_503_naming_both_revisions(pg_url: str) -> None:
    upgrade(pg_url, "0001")
    with _client(pg_url) as client:
        response = client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert body["reason"] == "database is behind: at 0001, head is 0002"
    assert body["migration_version"] == "0001"


def test_unknown_revision_in_database_is_503(migrated_url: str) -> None:
    with psycopg.connect(migrated_url.replace("+psycopg", "")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")
    with _client(migrated_url) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert "unknown to this build" in response.json()["reason"]


def test_stopped_database_is_503_fast_and_livez_stays_200(migrated_url: str, pg_cluster: PostgresCluster) -> None:
    with _client(migrated_url) as client:
        assert client.get("/health").status_code == 200
        pg_cluster.stop()
        try:
            started = time.monotonic()
            response = client.get("/health")
            elapsed = time.monotonic() - started
            livez = client.get("/livez")
        finally:
            pg_cluster.ensure_running()
        assert response.status_code == 503
        assert response.json()["reason"] == "database unreachable"
        assert response.json()["database"] == "disconnected"
        assert elapsed < 5  # the 3 s connect timeout bounds it
        assert livez.status_code == 200
        assert livez.json() == {"status": "alive"}
        # and it recovers once the database is back (pool_pre_ping replaces dead connections)
        assert client.get("/health").status_code == 200


def test_cors_lets_the_configured_web_origin_read_health(migrated_url: str) -> None:
    settings = Settings(database_url=migrated_url, cors_allow_origins=["https://web.example.com"])
    with TestClient(create_app(settings)) as client:
        allowed = client.get("/health", headers={"Origin": "https://web.example.com"})
        other = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://web.example.com"
    assert "access-control-allow-origin" not in other.headers
