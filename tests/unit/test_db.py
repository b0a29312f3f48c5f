"""pmis_deploy.db without a database: URL resolution per environment, targets, history, diff rendering."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmis_deploy import db
from pmis_deploy.config import load_settings
from pmis_deploy.errors import ConfigError
from pmis_deploy.redaction import redact


def test_local_uses_the_local_settings_url() -> None:
    own = "postgresql+psycopg://postgres@127.0.0.1:5999/pmis"  # not the cluster `local` runs: nothing is started
    settings = load_settings("local", environ={"PMIS_LOCAL__DATABASE_URL": own}).settings
    assert db.resolve_database_url(settings, environ={"DATABASE_URL": "postgres://x@elsewhere/db"}) == own


def test_other_environments_read_database_url_and_register_its_password() -> None:
    settings = load_settings("staging", environ={}).settings
    url = db.resolve_database_url(settings, environ={"DATABASE_URL": "postgres://app:Zq9%40secretpw@db.internal/pmis"})
    assert url == "postgresql+psycopg://app:Zq9%40secretpw@db.internal/pmis"  # pragma: allowlist secret
    assert "Zq9@secretpw" not in redact("leaked Zq9@secretpw")  # the decoded password is registered
    assert db.display_url(url) == "app@db.internal/pmis"
    socket_url = "postgresql+psycopg://app:pw@/pmis?host=/cloudsql/p:r:i"  # pragma: allowlist secret
    assert db.display_url(socket_url) == "app@/cloudsql/p:r:i/pmis"


def test_missing_database_url_names_the_variable_and_the_secret() -> None:
    settings = load_settings("production", environ={}).settings
    with pytest.raises(ConfigError, match="DATABASE_URL is not set") as caught:
        db.resolve_database_url(settings, environ={})
    assert "pmis-production/database-url" in (caught.value.hint or "")
    assert "pmis-production-database-url" in (caught.value.hint or "")


@pytest.mark.parametrize("bad", ["mysql://u@h/d", "nonsense"])
def test_invalid_urls_are_config_errors(bad: str) -> None:
    settings = load_settings("staging", environ={}).settings
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
        db.resolve_database_url(settings, environ={"DATABASE_URL": bad})


@pytest.mark.parametrize("target", [None, "", "  "])
def test_downgrade_needs_an_explicit_target(target: str | None) -> None:
    with pytest.raises(ConfigError, match="explicit target"):
        db.require_target(target)
    assert db.require_target(" 0001 ") == "0001"


def test_history_lists_the_scripts_newest_first() -> None:
    revisions = db.history()
    assert [(r.revision, r.down_revisions, r.message, r.is_head) for r in revisions] == [
        ("0002", ("0001",), "tasks", True),
        ("0001", (), "packages", False),
    ]


def test_diffs_render_as_one_readable_line() -> None:
    table = sa.Table("tasks", sa.MetaData(), sa.Column("legacy", sa.Integer))
    assert db._describe(("remove_column", None, "tasks", table.c.legacy)) == "remove_column tasks.legacy"
    assert db._describe(("add_table", table)) == "add_table tasks"
    modify: tuple[object, ...] = ("modify_type", None, "tasks", "title", {}, sa.String(64), sa.String(255))
    assert db._describe(modify) == "modify_type tasks.title: String(length=64) → String(length=255)"
