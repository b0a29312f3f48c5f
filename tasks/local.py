"""`inv local.*`: the `local` environment's embedded AWS, local PostgreSQL and embedded GCP."""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks._common import JSON_HELP, load, reported

ONLY_HELP = "comma-separated pieces to act on: aws, postgres, gcp (default: all)"


def _only(only: str | None) -> list[str] | None:
    return [p.strip() for p in only.split(",") if p.strip()] if only else None


@task(help={"only": ONLY_HELP, "json": JSON_HELP})
def up(c: Context, only: str | None = None, json: bool = False) -> None:
    """Start the embedded AWS, local PostgreSQL and embedded GCP."""
    with reported():
        from pmis_deploy.emulators import local

        local.render(local.up(load("local").settings, _only(only)), as_json=json, title="local.up")


@task(help={"only": ONLY_HELP, "json": JSON_HELP})
def down(c: Context, only: str | None = None, json: bool = False) -> None:
    """Stop the local stand-ins (the embedded AWS forgets its state)."""
    with reported():
        from pmis_deploy.emulators import local

        local.render(local.down(load("local").settings, _only(only)), as_json=json, title="local.down")


@task(default=True, help={"json": JSON_HELP})
def status(c: Context, json: bool = False) -> None:
    """Show which local stand-ins run, where, and for how long."""
    with reported():
        from pmis_deploy.emulators import local

        local.render(local.status(load("local").settings), as_json=json)


ns = Collection("local", up, down, status)
