"""The migrations themselves: no URL in alembic.ini, real server defaults, up/down/up round trip."""

from __future__ import annotations

import configparser
import io
from contextlib import redirect_stdout

import pytest
import sqlalchemy as sa
from alembic import command

from app.migrations import API_ROOT, alembic_config, upgrade

pytestmark = pytest.mark.integration


def test_alembic_ini_has_no_database_url() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(API_ROOT / "alembic.ini")
    assert not parser.has_option("alembic", "sqlalchemy.url")


def test_offline_sql_has_server_side_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://u:p%40ss@localhost/pmis"  # pragma: allowlist secret
    monkeypatch.setenv("DATABASE_URL", url)  # the % must survive configparser
    config = alembic_config(configure_logger=False)
    out = io.StringIO()
    config.stdout = out
    with redirect_stdout(out):
        command.upgrade(config, "head", sql=True)
    sql = out.getvalue()
    assert "created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL" in sql
    assert "data JSONB DEFAULT '{}'::jsonb NOT NULL" in sql


def test_upgrade_downgrade_to_base_and_up_again(pg_url: str) -> None:
    config = alembic_config(pg_url, configure_logger=False)
    engine = sa.create_engine(pg_url)
    try:
        upgrade(pg_url)
        assert {"packages", "tasks", "alembic_version"} <= set(sa.inspect(engine).get_table_names())
        command.downgrade(config, "base")
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(pg_url)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0002"
    finally:
        engine.dispose()
