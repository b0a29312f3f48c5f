"""checks.migrations offline: heads and imports on small trees; no database server → UNAVAILABLE."""

from __future__ import annotations

from pathlib import Path

import app.models  # noqa: F401  (the real apps/api package, imported before any tmp copy is on sys.path)
from pmis_deploy.checks import migrations
from pmis_deploy.checks.outcome import Outcome

REPO = Path(__file__).resolve().parents[2]

REVISION = '''"""{rev}"""
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    {body}


def downgrade() -> None:
    pass
'''


def versions_tree(root: Path, revisions: dict[str, tuple[str | None, str]]) -> Path:
    versions = root / "apps/api/alembic/versions"
    versions.mkdir(parents=True)
    for rev, (down, body) in revisions.items():
        (versions / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down, body=body))
    return root


def test_one_head_and_clean_imports_pass_offline(check_ctx, tmp_path):
    ctx = check_ctx(versions_tree(tmp_path, {"a1": (None, "pass"), "b2": ("a1", "pass")}))
    assert migrations.one_head(ctx).outcome is Outcome.PASS
    assert migrations.one_head(ctx).note == "b2"
    sub = migrations.imports_cleanly(ctx.root, ctx.root / migrations.VERSIONS)
    assert sub.outcome is Outcome.PASS and sub.note == "2 file(s)"


def test_two_heads_fail(check_ctx, tmp_path):
    ctx = check_ctx(versions_tree(tmp_path, {"a1": (None, "pass"), "b2": ("a1", "pass"), "c3": ("a1", "pass")}))
    verdict = migrations.check(ctx)
    assert verdict.outcome is Outcome.FAIL
    assert "one head: FAIL (2 heads (b2, c3)" in verdict.details
    assert "models = migrations: UNAVAILABLE (not run" in verdict.details


def test_a_migration_that_does_not_import_is_named_with_its_line(check_ctx, tmp_path):
    root = versions_tree(tmp_path, {"a1": (None, "pass"), "b2": ("a1", "pass")})
    path = root / migrations.VERSIONS / "b2.py"
    path.write_text(path.read_text().replace("from alembic import op", "from alembic import op\nimport not_a_module"))
    sub = migrations.imports_cleanly(root, root / migrations.VERSIONS)
    assert sub.outcome is Outcome.FAIL
    assert [str(f) for f in sub.findings] == [
        "apps/api/alembic/versions/b2.py:3: ModuleNotFoundError: No module named 'not_a_module'"
    ]


def test_no_migrations_fail(check_ctx, tmp_path):
    assert migrations.check(check_ctx(tmp_path)).outcome is Outcome.FAIL


def test_without_a_database_server_the_comparison_is_unavailable(check_ctx):
    settings_free_port = "postgresql+psycopg://postgres@127.0.0.1:9/pmis"
    verdict = migrations.check(check_ctx(REPO, checks={"migrations_database_url": settings_free_port}))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "one head: PASS" in verdict.details and "migrations import cleanly: PASS" in verdict.details
    assert "models = migrations: UNAVAILABLE (cannot create a scratch database on" in verdict.details


def test_non_local_environment_without_a_server_is_unavailable(check_ctx):
    ctx = check_ctx(REPO)
    ctx.settings.environment = ctx.settings.environment.__class__("staging")
    sub = migrations.models_match(ctx)
    assert sub.outcome is Outcome.UNAVAILABLE
    assert "checks.migrations_database_url" in sub.note
