"""checks.migrations against a real PostgreSQL: the migrations build what the models declare."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import app.models  # noqa: F401  (the real apps/api package, imported before any tmp copy is on sys.path)
from pmis_deploy.checks import migrations
from pmis_deploy.checks.outcome import Outcome

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_repository_migrations_match_the_models(check_ctx, pg_cluster):
    verdict = migrations.check(check_ctx(REPO, checks={"migrations_database_url": pg_cluster.url()}))
    assert verdict.outcome is Outcome.PASS, verdict.details
    assert "models = migrations: PASS" in verdict.details
    assert not [d for d in pg_cluster_databases(pg_cluster) if d.startswith("pmis_check_")]


@pytest.mark.integration
def test_a_model_change_without_a_migration_fails(check_ctx, pg_cluster, tmp_path):
    shutil.copytree(REPO / "apps/api", tmp_path / "apps/api", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    latest = sorted((tmp_path / migrations.VERSIONS).glob("*.py"))[-1]
    latest.unlink()  # the models keep what that migration created
    verdict = migrations.check(check_ctx(tmp_path, checks={"migrations_database_url": pg_cluster.url()}))
    assert verdict.outcome is Outcome.FAIL
    assert "model change(s) without a migration" in verdict.details
    assert any(f.message.startswith(("add_table", "add_column", "add_index")) for f in verdict.findings)


def pg_cluster_databases(cluster) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.url())
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT datname FROM pg_database"))]
    finally:
        engine.dispose()


@pytest.mark.integration
def test_local_environment_uses_the_local_postgresql_as_deploy_does(check_ctx, pg_cluster, monkeypatch):
    from pmis_deploy.emulators import local

    started = []
    monkeypatch.setattr(local, "ensure_database", lambda settings: started.append(1) or pg_cluster.url())
    verdict = migrations.check(check_ctx(REPO))  # environment local, no migrations_database_url
    assert started == [1]
    assert verdict.outcome is Outcome.PASS, verdict.details


def test_local_postgresql_that_cannot_start_is_unavailable(check_ctx, monkeypatch):
    from pmis_deploy.emulators import local
    from pmis_deploy.errors import ToolMissingError

    def fail(settings):
        raise ToolMissingError("pg_ctl is not installed", hint="apt-get install postgresql-15")

    monkeypatch.setattr(local, "ensure_database", fail)
    sub = migrations.models_match(check_ctx(REPO))
    assert sub.outcome is Outcome.UNAVAILABLE
    assert "the local PostgreSQL could not be started: pg_ctl is not installed" in sub.note
