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
