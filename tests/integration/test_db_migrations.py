"""pmis_deploy.db and `inv db.*` against a real PostgreSQL 15: upgrade from empty, plan, idempotence,
downgrade to base and up again, and db.check failing on a forked history, a database behind, and drift."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from invoke import Context
from invoke.exceptions import Exit

from pmis_deploy import db
from pmis_deploy.errors import ConfigError, ConfirmationRefused, GateFailed

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _sql(url: str, statement: str) -> None:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(statement)


def test_upgrade_from_empty_then_nothing_to_do(pg_url: str) -> None:
    plan = db.plan_upgrade(pg_url)
    assert (plan.before, plan.applied, plan.planned) == ((), ("0001", "0002"), True)
    assert db.current_heads(pg_url) == ()  # planning changed nothing
    done = db.upgrade(pg_url)
    assert (done.before, done.after, done.applied) == ((), ("0002",), ("0001", "0002"))
    again = db.upgrade(pg_url)
    assert again.applied == () and again.changed is False
    assert db.plan_upgrade(pg_url).applied == ()
    assert db.state(pg_url).up_to_date


def test_step_by_step_state_and_pending(pg_url: str) -> None:
    assert db.upgrade(pg_url, "0001").applied == ("0001",)
    current = db.state(pg_url)
    assert (current.current, current.heads, current.pending, current.up_to_date) == (
        ("0001",),
        ("0002",),
        ("0002",),
        False,
    )


def test_downgrade_to_base_and_up_again(pg_url: str) -> None:
    db.upgrade(pg_url)
    down = db.downgrade(pg_url, "base")
    assert (down.before, down.after, down.applied) == (("0002",), (), ("0002", "0001"))
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"alembic_version"}
    assert db.upgrade(pg_url).applied == ("0001", "0002")
    assert db.downgrade(pg_url, "0001").applied == ("0002",)
    assert db.current_heads(pg_url) == ("0001",)


def test_unknown_revision_is_a_config_error(pg_url: str) -> None:
    with pytest.raises(ConfigError, match="unknown revision"):
        db.plan_upgrade(pg_url, "nope")
    with pytest.raises(ConfigError, match="alembic upgrade nope"):
        db.upgrade(pg_url, "nope")


def test_check_passes_at_head_and_fails_behind(pg_url: str) -> None:
    behind = db.check(pg_url)
    assert not behind.ok
    assert "nothing applied" in behind.problems[0] and "inv db.migrate" in behind.problems[0]
    db.upgrade(pg_url)
    report = db.check(pg_url)
    assert report.ok, report.problems
    assert report.diffs == ()


def test_check_fails_when_models_differ_from_the_schema(pg_url: str) -> None:
    db.upgrade(pg_url)
    _sql(pg_url, "ALTER TABLE tasks ADD COLUMN legacy integer")
    _sql(pg_url, "ALTER TABLE packages ALTER COLUMN title TYPE varchar(100)")
    report = db.check(pg_url)
    assert not report.ok
    assert "remove_column tasks.legacy" in report.diffs
    assert any(d.startswith("modify_type packages.title") for d in report.diffs)
    assert "models differ from the migrations (2 difference(s))" in report.problems[0]


def test_check_fails_on_several_heads(pg_url: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "apps" / "api" / "alembic", root / "apps" / "api" / "alembic")
    versions = root / "apps" / "api" / "alembic" / "versions"
    for rev in ("0003a", "0003b"):
        (versions / f"{rev}_fork.py").write_text(
            f'"""fork {rev}"""\nrevision = "{rev}"\ndown_revision = "0002"\nbranch_labels = None\n'
            "depends_on = None\n\n\ndef upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
        )
    report = db.check(pg_url, root=root)
    assert not report.ok
    assert report.heads == ("0003a", "0003b")
    assert "2 heads (0003a, 0003b)" in report.problems[0] and "alembic merge heads" in report.problems[0]


def test_unreachable_database_says_so_without_the_password() -> None:
    url = "postgresql+psycopg://app:hunter2secret@127.0.0.1:1/pmis"  # pragma: allowlist secret
    with pytest.raises(db.DatabaseUnreachable) as caught:
        db.current_heads(url)
    assert "hunter2secret" not in caught.value.render()
    assert "127.0.0.1:1" in caught.value.render()


# --- the tasks -------------------------------------------------------------------------------------


@pytest.fixture
def local_db(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the `local` environment at the test database (PMIS_LOCAL__DATABASE_URL)."""
    monkeypatch.setenv("PMIS_LOCAL__DATABASE_URL", pg_url)
    monkeypatch.chdir(REPO)
    return pg_url


def test_tasks_plan_migrate_check_and_downgrade(local_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tasks import db as db_tasks

    with pytest.raises(Exit) as planned:
        db_tasks.migrate(Context(), dry_run=True)
    assert planned.value.code == 2
    assert "would upgrade base (nothing applied) → 0002: 0001, 0002" in capsys.readouterr().out
    assert db.current_heads(local_db) == ()
    db_tasks.migrate(Context())
    assert db.current_heads(local_db) == ("0002",)
    with pytest.raises(Exit) as nothing:
        db_tasks.migrate(Context(), dry_run=True)
    assert nothing.value.code == 0
    db_tasks.check(Context())
    db_tasks.current(Context())
    assert "current: 0002" in capsys.readouterr().out
    with pytest.raises(Exit):
        db_tasks.downgrade(Context())  # no --to: refused, nothing changed
    assert db.current_heads(local_db) == ("0002",)
    db_tasks.downgrade(Context(), to="0001")
    assert db.current_heads(local_db) == ("0001",)
    with pytest.raises(Exit) as failed:
        db_tasks.check(Context())
    assert failed.value.code == GateFailed.exit_code


def test_production_downgrade_needs_confirmation(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pmis_deploy.guard import confirm

    monkeypatch.setenv("CI", "true")
    with pytest.raises(ConfirmationRefused, match="without --yes"):
        confirm("production", required=True, yes=False, action="downgrade to base")
    db.upgrade(pg_url)
    env = {**os.environ, "CI": "true", "DATABASE_URL": pg_url}
    env.pop("PMIS_ENV", None)
    refused = subprocess.run(
        [sys.executable, "-m", "invoke", "db.downgrade", "--env", "production", "--to", "base"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1, refused.stderr
    assert "refusing to downgrade to base production from CI without --yes" in refused.stderr
    assert db.current_heads(pg_url) == ("0002",)  # untouched
