"""`inv rollback.aws`: put every service back on the task definitions of a good release.

    record, code = rollback(loaded, RollbackRequest(to=None))      # the newest good release that differs

The target is a release record — the task-definition ARNs it ran — never "revision - 1" (guide R1).
Without --to it is the newest good release whose services differ from what runs now (so a no-op
re-deploy is never chosen). Every service is updated, waited on to COMPLETED like a deploy, and the
health check must pass; the result is recorded as a release of status `rollback`. The database schema
is not downgraded (a warning says when the target's Alembic head differs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pmis_deploy import console, pipeline
from pmis_deploy.aws import rollout, secrets, taskdefs
from pmis_deploy.aws.deploy import AwsRelease, confirmed_clients, put_back
from pmis_deploy.errors import NotFound
from pmis_deploy.release import ReleaseRecord, ReleaseStatus, new_release_id

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import LoadedSettings
    from pmis_deploy.release import StateBackend
    from pmis_deploy.shell import Runner


@dataclass
class RollbackRequest:
    to: str | None = None
    dry_run: bool = False
    yes: bool = False
    wait_seconds: float = 0.0


def choose_target(backend: StateBackend, to: str | None, running: dict[str, str]) -> ReleaseRecord:
    """The named release, or the newest good one whose services differ from `running`."""
    if to:
        record = backend.get_release(to)
        if record is None:
            known = ", ".join(r.id for r in backend.list_releases(limit=10)) or "none"
            raise NotFound(f"--to: no release {to!r} in {backend.location}", hint=f"known releases: {known}")
        if not record.good or not record.services:
            raise NotFound(
                f"--to: release {to} is {record.status.value}; only a good release can be restored",
                hint="`inv releases.list --cloud aws` shows each release's status",
            )
        return record
    for record in backend.list_releases(limit=100):
        differs = any(not rollout.same_taskdef(running.get(w), arn) for w, arn in record.services.items())
        if record.good and record.services and differs:
            return record
    raise NotFound(
        f"no earlier good release in {backend.location} differs from what runs now",
        hint="`inv releases.list --cloud aws` shows the history; name one with --to",
    )


def refuse_missing_versions(aws: AwsClients, target: ReleaseRecord, pins: set[tuple[str, str]]) -> None:
    """Refuse, before anything changes, a target whose task definitions pin secret versions that Secrets
    Manager no longer keeps (it deletes unlabelled versions beyond ~100): its tasks could not start."""
    kept: dict[str, set[str]] = {}
    missing = []
    for arn, version in sorted(pins):
        if arn not in kept:
            kept[arn] = secrets.kept_versions(aws, arn)
        if version not in kept[arn]:
            missing.append(f"{arn.rsplit(':', 1)[-1]} version {version}")
    if missing:
        raise NotFound(
            f"release {target.id} pins secret versions Secrets Manager no longer keeps: {', '.join(missing)}",
            hint="roll back to a newer release (--to; `inv releases.list --cloud aws`), or deploy that commit "
            "again (`inv deploy.aws --tag <its tag>`) so it pins the current versions",
        )


def running_taskdefs(release: AwsRelease) -> dict[str, str]:
    assert release.infra is not None
    from pmis_deploy.aws import naming

    names = {naming.ecs_service(release.settings, w): w for w in taskdefs.SERVICES}
    found = rollout.describe(release.aws.client("ecs"), release.infra.cluster_name, list(names))
    return {names[n]: str(s["taskDefinition"]) for n, s in found.items()}


def rollback(
    loaded: LoadedSettings, request: RollbackRequest, *, aws: AwsClients | None = None, runner: Runner | None = None
) -> tuple[ReleaseRecord, int]:
    """Roll back (or plan it); returns the rollback's record and the exit code (0, or 2 = changes planned)."""
    from pmis_deploy.aws.provision import read_infra
    from pmis_deploy.aws.state import S3StateBackend

    settings = loaded.settings
    env = settings.environment.value
    aws, runner = confirmed_clients(
        loaded, action="roll back", dry_run=request.dry_run, yes=request.yes, aws=aws, runner=runner
    )
    backend = S3StateBackend.for_settings(aws, settings)
    release = AwsRelease(loaded, aws, runner, tag="rollback", build_from_source=False)
    release.infra = read_infra(aws, settings)
    running = running_taskdefs(release)
    target = choose_target(backend, request.to, running)
    ecs = aws.client("ecs")
    pins: set[tuple[str, str]] = set()
    for arn in target.services.values():
        described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        if described.get("status") != "ACTIVE":
            console.warn(f"{rollout.short(arn)} is {described.get('status')}; ECS still runs it for a rollback")
        pins.update(taskdefs.pinned_versions(described))
    refuse_missing_versions(aws, target, pins)
    newest = next(iter(backend.list_releases(limit=1)), None)
    if newest and target.alembic_head and newest.alembic_head and newest.alembic_head != target.alembic_head:
        console.warn(
            f"the database stays at Alembic {newest.alembic_head} (release {target.id} ran {target.alembic_head}); "
            "schema downgrades are not automatic: `inv db.downgrade` if the old code needs the old schema"
        )
    record = ReleaseRecord(
        id=new_release_id(target.git_sha),
        environment=env,
        cloud="aws",
        git_sha=target.git_sha,
        tag=target.tag,
        images=dict(target.images),
        services=dict(target.services),
        secret_versions=dict(target.secret_versions),  # its task definitions pin these versions
        alembic_head=target.alembic_head,
        rolled_back_to=target.id,
        urls={"app": release.infra.base_url},
    )

    def restore(run: pipeline.Run) -> None:
        assert release.infra is not None
        actions = rollout.plan_services(ecs, settings, release.infra, target.services)
        for action in actions:
            if action.action != "none":
                run.change(action.describe())
        if run.dry_run or all(a.action == "none" for a in actions):
            return
        run.services_changed()
        put_back(release, dict(target.services))

    def undo(record: ReleaseRecord, previous: ReleaseRecord | None) -> None:
        put_back(release, running)  # the rollback itself failed: back to what ran before it

    steps = [
        pipeline.Step(f"roll back services to {target.id}", restore),
        pipeline.Step("health check", release.verify),
    ]
    options = pipeline.Options(
        lock_wait_seconds=request.wait_seconds,
        stale_after=dt.timedelta(minutes=settings.deploy.lock_stale_after_minutes),
        purpose="rollback",
        success_status=ReleaseStatus.rollback,
    )
    result = pipeline.execute(
        pipeline.Run(record, dry_run=request.dry_run), steps, backend=backend, rollback=undo, options=options
    )
    return result, pipeline.exit_code(result, dry_run=request.dry_run)
