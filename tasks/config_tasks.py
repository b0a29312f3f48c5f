"""`inv config.*`: the resolved settings of an environment."""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks._common import ENV_HELP, JSON_HELP, load, reported


@task(name="show", default=True, help={"env": ENV_HELP, "json": JSON_HELP})
def show(c: Context, env: str | None = None, json: bool = False) -> None:
    """Print the resolved settings (secrets redacted) and where each value came from."""
    with reported():
        from pmis_deploy.config_view import render

        render(load(env), as_json=json)


@task(name="environments")
def environments(c: Context) -> None:
    """List the environments (config/<env>.toml)."""
    with reported():
        from pmis_deploy.config import environments as names
        from pmis_deploy.config import project_root

        print("\n".join(names(project_root())))


ns = Collection("config", show, environments)
