"""`inv images.*`: the PMIS container images, built locally (deploy.* builds and pushes them itself)."""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks._common import ENV_HELP, load, reported


@task(name="build", default=True, help={"env": ENV_HELP})
def build(c: Context, env: str | None = None) -> None:
    """Build the api, worker and web images for the current commit (tag = git SHA; never pushed)."""
    with reported():
        from pmis_deploy import console
        from pmis_deploy.images import build_local
        from pmis_deploy.shell import Runner

        loaded = load(env)
        refs = build_local(loaded.root, loaded.root / loaded.settings.local.state_dir, Runner())
        for ref in refs:
            console.result(
                f"{ref.service}: {ref.tagged} built" if ref.built else f"{ref.service}: skipped ({ref.note})"
            )


ns = Collection("images", build)
