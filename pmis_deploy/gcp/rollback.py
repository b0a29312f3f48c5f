"""`inv rollback.gcp`: move the traffic of every service back to the revisions of the previous good
release (or `--to RELEASE`) in one go (R2: `update-traffic --to-revisions=<revision>=100`), and the
daily job back to that release's worker image. Recorded as a release of status `rollback`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import NotFound
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import run
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import SERVICES
from pmis_deploy.gcp.state import GcsStateBackend
from pmis_deploy.pipeline import Run, Step
from pmis_deploy.release import ReleaseRecord, ReleaseStatus, new_release_id, resolve_target

if TYPE_CHECKING:
    from pmis_deploy.config import LoadedSettings


@dataclass
class RollbackPlan:
    target: ReleaseRecord
    moves: dict[str, str]  # service name → revision to get 100%
    job_image: str | None

    def lines(self) -> list[str]:
        out = [f"traffic of {svc}: 100% to {rev}" for svc, rev in self.moves.items()]
        if self.job_image:
            out.append(f"daily job image → {self.job_image}")
        return out


def make_plan(ctx: Ctx, backend: GcsStateBackend, to: str | None) -> RollbackPlan:
    releases = backend.list_releases(limit=1)
    current = releases[0] if releases else None
    target = resolve_target(backend, to, current.id if current else None)
    services = {s["metadata"]["name"]: s for s in ctx.gcloud.run(g.run_services_list()) or []}
    revisions = {r["metadata"]["name"] for r in ctx.gcloud.run(g.run_revisions_list()) or []}
    moves = {}
    for component in SERVICES:
        revision = target.services.get(component)
        name = ctx.names.service(component)
        if not revision:
            continue
        if revision not in revisions:
            raise NotFound(
                f"release {target.id}: revision {revision} of {name} no longer exists",
                hint="pick another release with --to (`inv status.gcp` lists them)",
            )
        live = run.serving(services.get(name, {}))
        if live != [(revision, 100)]:
            moves[name] = revision
    image = target.images.get("worker", "")
    return RollbackPlan(target, moves, image if image and " (" not in image else None)


def rollback(
    loaded: LoadedSettings, *, to: str | None = None, dry_run: bool = False, yes: bool = False, ctx: Ctx | None = None
) -> tuple[ReleaseRecord | None, int, str]:
    """Returns (record, exit code, summary)."""
    from pmis_deploy import console, pipeline
    from pmis_deploy.guard import confirm

    s = loaded.settings
    ctx = ctx or Ctx.for_settings(s, dry_run=dry_run)
    backend = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)
    plan = make_plan(ctx, backend, to)
    target = plan.target
    if not plan.moves and not plan.job_image:
        console.success(f"no changes: every service already runs release {target.id}")
        return None, 0, "no changes"
    if dry_run:
        lines = "\n".join(f"  ~ {line}" for line in plan.lines())
        return None, 2, f"rollback plan to {target.id}:\n{lines}"
    confirm(s.environment.value, required=s.deploy.confirm, yes=yes, action="roll back")
    record = ReleaseRecord(
        id=new_release_id(target.git_sha), environment=s.environment.value, cloud="gcp", git_sha=target.git_sha,
        tag=target.tag, images=dict(target.images), services=dict(target.services),
        secret_versions=dict(target.secret_versions), alembic_head=target.alembic_head, rolled_back_to=target.id,
        urls=dict(target.urls),
    )  # fmt: skip

    def move(r: Run) -> None:
        r.services_changed()
        cmds = [g.run_update_traffic(svc, to_revisions={rev: 100}) for svc, rev in plan.moves.items()]
        if plan.job_image:
            cmds.append(g.run_job_update_image(ctx.names.overdue_job, plan.job_image))
        ctx.gcloud.run_all(cmds)
        for line in plan.lines():
            r.change(line)

    options = pipeline.Options(
        purpose="rollback",
        success_status=ReleaseStatus.rollback,
        stale_after=dt.timedelta(minutes=s.deploy.lock_stale_after_minutes),
    )
    final = pipeline.execute(
        Run(record), [Step(f"traffic back to {target.id}", move)], backend=backend, options=options
    )
    return final, 0, pipeline.render_summary(final)


def describe_target(record: ReleaseRecord) -> dict[str, Any]:
    return {"id": record.id, "tag": record.tag, "services": record.services}
