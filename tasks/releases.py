"""`inv releases.*`: the release records and the deploy lock of an environment (AWS S3 or GCP GCS)."""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks._common import ENV_HELP, JSON_HELP, YES_HELP, load, reported

CLOUD_HELP = "aws (S3 state bucket, default) or gcp (GCS state bucket)"


@task(
    name="list",
    default=True,
    help={"env": ENV_HELP, "cloud": CLOUD_HELP, "limit": "how many, newest first", "json": JSON_HELP},
)
def list_(c: Context, env: str | None = None, cloud: str = "aws", limit: int = 20, json: bool = False) -> None:
    """List release records, newest first (status, tag, who, duration, gate, rollback target)."""
    with reported():
        from pmis_deploy.aws.status import release_row, render_releases
        from pmis_deploy.history import state_backend

        rows = [release_row(r) for r in state_backend(load(env).settings, cloud).list_releases(limit)]
        if json:
            import json as _json

            print(_json.dumps(rows, indent=2, default=str))
        else:
            render_releases(rows, title=f"releases ({cloud})")


@task(help={"env": ENV_HELP, "cloud": CLOUD_HELP, "force": "break the lock even if it is not stale", "yes": YES_HELP})
def unlock(c: Context, env: str | None = None, cloud: str = "aws", force: bool = False, yes: bool = False) -> None:
    """Break a stale deploy lock (--force: any lock; only when no release is running)."""
    with reported():
        from pmis_deploy import console
        from pmis_deploy.guard import confirm
        from pmis_deploy.history import state_backend
        from pmis_deploy.history import unlock as break_lock

        settings = load(env).settings
        confirm(
            settings.environment.value, required=settings.deploy.confirm, yes=yes, action="break the deploy lock of"
        )
        removed = break_lock(state_backend(settings, cloud), settings, force=force)
        console.result(f"removed the lock held by {removed.describe()}" if removed else "no lock was held")


ns = Collection("releases", list_, unlock)
