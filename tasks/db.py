"""`inv db.*`: Alembic migrations of the api against the environment's database.

`local` uses settings.local.database_url; other environments read DATABASE_URL from the environment.
"""

from __future__ import annotations

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from tasks._common import DRY_RUN_HELP, ENV_HELP, YES_HELP, load, reported

REVISION_HELP = "target revision (default: head); see `inv db.history`"


@task(help={"env": ENV_HELP, "revision": REVISION_HELP, "dry_run": DRY_RUN_HELP, "yes": YES_HELP})
def migrate(
    c: Context, env: str | None = None, revision: str = "head", dry_run: bool = False, yes: bool = False
) -> None:
    """Migrate the database to head (or --revision)."""
    with reported():
        from pmis_deploy import db, db_view
        from pmis_deploy.guard import confirm

        settings = load(env).settings
        url = db.resolve_database_url(settings)
        if dry_run:
            plan = db.plan_upgrade(url, revision)
            db_view.outcome(plan, url)
            raise Exit(code=2 if plan.changed else 0)
        confirm(settings.environment.value, required=settings.deploy.confirm, yes=yes, action="migrate")
        db_view.outcome(db.upgrade(url, revision), url)


@task(help={"env": ENV_HELP})
def current(c: Context, env: str | None = None) -> None:
    """Show the database revision, the head and what is pending."""
    with reported():
        from pmis_deploy import db, db_view

        url = db.resolve_database_url(load(env).settings)
        db_view.state(db.state(url), url)


@task
def history(c: Context) -> None:
    """List the migrations, newest first."""
    with reported():
        from pmis_deploy import db, db_view

        db_view.history(db.history())


@task(help={"env": ENV_HELP, "to": "the revision to go back to (required; `base` empties the schema)", "yes": YES_HELP})
def downgrade(c: Context, to: str | None = None, env: str | None = None, yes: bool = False) -> None:
    """Downgrade the database to an explicit --to revision."""
    with reported():
        from pmis_deploy import db, db_view
        from pmis_deploy.guard import confirm

        target = db.require_target(to)
        settings = load(env).settings
        url = db.resolve_database_url(settings)
        confirm(settings.environment.value, required=settings.deploy.confirm, yes=yes, action=f"downgrade to {target}")
        db_view.outcome(db.downgrade(url, target), url)


@task(help={"env": ENV_HELP})
def check(c: Context, env: str | None = None) -> None:
    """Fail on several heads, a database behind head, or model drift."""
    with reported():
        from pmis_deploy import db, db_view

        url = db.resolve_database_url(load(env).settings)
        db_view.check(db.check(url))


ns = Collection("db", migrate, current, history, downgrade, check)
