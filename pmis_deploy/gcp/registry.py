"""Artifact Registry (G10): one docker repository per environment; images tagged by git SHA (G12)."""

from __future__ import annotations

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    repo = ctx.names.repository
    if repo not in seen.repositories:
        cmd = g.ar_repository_create(repo)
        phases.add(2, change(f"artifact repository {repo}", "create", "docker", lambda: ctx.gcloud.run(cmd)))
