"""`inv deploy.aws`: one release of the current commit to ECS Fargate.

    lock → checklist gate → build images ∥ provision (converge) → push (by digest) → task definitions
    (only when changed) → migration (one-off task, exit 0) → services (circuit breaker, wait for
    COMPLETED) → health check → record → unlock

Any failure after a service changed rolls every service back to the previous good release (the
pipeline calls `AwsRelease.rollback`). In `local` images are not pushed (deploy.push_images = false),
and the migration and the health check also run for real against the api as local processes on the
local PostgreSQL (settings.local.database_url), next to the emulator's one-off task.

"No changes": a re-deploy of the same commit makes no mutating AWS call outside the state bucket
(the lock object and the release record are written there on every real run, for safety and history).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy import console, images, pipeline
from pmis_deploy.aws import ecr, migrate, rollout, taskdefs
from pmis_deploy.errors import NotFound, ToolMissingError
from pmis_deploy.release import ReleaseRecord, new_release_id

if TYPE_CHECKING:
    from pmis_deploy.aws.infra import AwsInfra
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.aws.state import S3StateBackend
    from pmis_deploy.config import LoadedSettings
    from pmis_deploy.shell import Runner

REPOSITORIES = images.APP_SERVICES
BACKEND_IMAGES = ("api", "worker")  # built while provisioning runs; web needs the ALB URL first
app_image_specs = images.app_image_specs  # module-level so tests can point it at other Dockerfiles
LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])[:/]")


@dataclass
class DeployRequest:
    tag: str | None = None  # deploy this already-built tag instead of building HEAD
    dry_run: bool = False
    yes: bool = False
    skip_checks: str | None = None  # reason; the gate is skipped and the reason recorded
    checks_report: str | None = None  # a checklist report of this tree whose outcomes stand in for the gate
    allow_dirty: bool = False
    wait_seconds: float = 0.0  # queue behind a held lock this long


def poll_seconds(aws: AwsClients, default: float) -> float:
    """An emulator on loopback answers at once: poll it quickly; real AWS at the configured delay."""
    return 0.2 if aws.endpoint_url and LOOPBACK.match(aws.endpoint_url) else default


@dataclass
class AwsRelease:
    """The AWS steps of one release (also used by rollback.aws for roll-out and verify)."""

    loaded: LoadedSettings
    aws: AwsClients
    runner: Runner
    tag: str
    build_from_source: bool = True
    infra: AwsInfra | None = None
    refs: dict[str, images.ImageRef] = field(default_factory=dict)
    taskdefs: dict[str, str] = field(default_factory=dict)  # workload → task-definition ARN
    registered: set[str] = field(default_factory=set)
    before: dict[str, str | None] = field(default_factory=dict)  # service workload → task definition before

    @property
    def settings(self) -> Any:
        return self.loaded.settings

    @property
    def local(self) -> bool:
        return bool(self.settings.environment.value == "local")

    @property
    def poll(self) -> float:
        return poll_seconds(self.aws, float(self.settings.aws.waiter_delay_seconds))

    # -- build ∥ provision ----------------------------------------------------------------------------
    def images_and_infrastructure(self, run: pipeline.Run) -> None:
        from pmis_deploy.aws.provision import provision, read_infra

        account = self.aws.account_id()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="release") as pool:
            built = pool.submit(self._images, run, account, BACKEND_IMAGES)
            converged = pool.submit(provision, self.aws, self.settings, dry_run=run.dry_run)
            result = converged.result()
            built.result()
        for change in result.changes:
            run.change(
                f"infrastructure: {change.action} {change.resource}" + (f" ({change.detail})" if change.detail else "")
            )
        self.infra = result.infra
        if self.infra is None:
            try:
                self.infra = read_infra(self.aws, self.settings)
            except NotFound as exc:
                console.info(f"plan: {exc.message}; task definitions and services will be created after provisioning")
        if self.infra is not None:
            run.record.urls["app"] = self.public_url
        # The web bundle has the api URL baked in (NEXT_PUBLIC_*), so it is built once the ALB exists.
        api_url = self.public_url if self.infra is not None else "<load balancer URL, known after provisioning>"
        self._images(run, account, ("web",), {"NEXT_PUBLIC_API_URL": api_url})

    @property
    def public_url(self) -> str:
        """The ALB's URL as a browser reaches it (https when a certificate is configured)."""
        assert self.infra is not None
        base = self.infra.base_url
        return "https://" + base.split("://", 1)[1] if self.settings.aws.certificate_arn else base

    def _images(
        self, run: pipeline.Run, account: str, services: Sequence[str], build_args: dict[str, str] | None = None
    ) -> None:
        push = bool(self.settings.deploy.push_images)
        todo: list[images.ImageRef] = []
        for service in services:
            ref = images.ImageRef(service, ecr.repository_uri(self.aws, self.settings, service, account), self.tag)
            digest = ecr.pushed_digest(self.aws, self.settings, service, self.tag) if push else None
            if digest:
                self.refs[service] = images.ImageRef(
                    service, ref.repository, self.tag, digest, built=True, pushed=True, note="already in ECR"
                )
            elif not self.build_from_source:
                if push:
                    raise NotFound(
                        f"--tag {self.tag}: {ref.tagged} is not in ECR", hint="deploy a pushed tag, or omit --tag"
                    )
                self.refs[service] = ref
            else:
                todo.append(ref)
        if not todo:
            return
        try:  # probes only read (docker info, buildah inspect), so the plan says what would happen
            engine = images.detect_engine(self.runner, self.loaded.root / self.settings.local.state_dir)
        except ToolMissingError:
            if not self.local:
                raise
            engine = None
        specs = {
            service: spec.with_build_args(**(build_args or {}))
            for service, spec in app_image_specs(self.loaded.root).items()
        }

        def one(ref: images.ImageRef) -> images.ImageRef:
            skip = self._skip_build(engine, specs[ref.service])
            if skip:
                return images.ImageRef(ref.service, ref.repository, ref.tag, note=skip)
            if run.dry_run:
                return ref
            assert engine is not None
            return images.build(engine, specs[ref.service], ref.repository, ref.tag)

        with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="build") as pool:
            for ref in pool.map(one, todo):
                self.refs[ref.service] = ref
                if ref.note:
                    console.warn(f"image build skipped for {ref.service}: {ref.note}")
                elif run.dry_run:
                    run.change(f"image {ref.service}: build {ref.tagged}" + (" and push" if push else ""))
                else:
                    run.change(f"image {ref.service}: built {ref.tagged}")

    def _skip_build(self, engine: images.Engine | None, spec: images.ImageSpec) -> str:
        """Why `local` cannot build this image here ('' = build it). Other environments never skip."""
        if not self.local:
            return ""
        if engine is None:
            return "no container engine reachable (docker or buildah); local uses the source tree"
        if not spec.dockerfile.is_file():
            return f"no Dockerfile at {spec.dockerfile}"
        missing = images.missing_bases(engine, spec.dockerfile)
        if missing:
            return f"base image {', '.join(missing)} not available offline; local uses the source tree"
        return ""

    # -- push -----------------------------------------------------------------------------------------
    def push(self, run: pipeline.Run) -> None:
        if not self.settings.deploy.push_images:
            console.info(
                f"images are not pushed in {self.settings.environment.value} (settings.deploy.push_images = false); "
                "task definitions name <repo>:<tag>"
            )
            return
        todo = [r for r in self.refs.values() if not r.pushed]
        if run.dry_run or not todo:
            return
        engine = images.detect_engine(self.runner, self.loaded.root / self.settings.local.state_dir)
        credentials = ecr.credentials(self.aws)
        for ref in todo:
            pushed = images.push(engine, ref, credentials=credentials)
            self.refs[ref.service] = pushed
            run.change(f"image {ref.service}: pushed {pushed.reference}")

    def pushed_images(self) -> dict[str, str]:
        return {s: r.reference for s, r in self.refs.items() if r.pushed}

    # -- task definitions -----------------------------------------------------------------------------
    def register(self, run: pipeline.Run) -> None:
        run.record.images = {s: r.recorded for s, r in self.refs.items()}
        if self.infra is None:
            run.change("task definitions: register every workload (first deploy)")
            return
        run.record.secret_versions = dict(self.infra.secret_versions)  # what the definitions pin (ids, never values)
        ecs = self.aws.client("ecs")
        for workload in taskdefs.WORKLOADS:
            ref = self.refs[taskdefs.IMAGE_OF[workload]]
            if self.settings.deploy.push_images and not ref.pushed:  # dry-run: the digest is not known yet
                run.change(f"task definition {taskdefs.family(self.settings, workload)}: register (new image)")
                self.registered.add(workload)
                continue
            request = taskdefs.build_task_definition(self.settings, self.infra, workload, ref.reference)
            arn, changed = taskdefs.register_if_changed(ecs, request, dry_run=run.dry_run)
            if changed:
                self.registered.add(workload)
                run.change(f"task definition {rollout.short(arn) if arn else request['family']}: registered")
            if arn:
                self.taskdefs[workload] = arn

    # -- migration ------------------------------------------------------------------------------------
    def migrate(self, run: pipeline.Run) -> None:
        previous = run.previous
        same_image = previous is not None and previous.images.get("api") == run.record.images.get("api")
        if same_image and "migrate" not in self.registered:
            console.info(f"migration: already applied by release {previous.id if previous else '?'} (same api image)")
        elif run.dry_run or "migrate" not in self.taskdefs:
            run.change("migration: run `alembic upgrade head` as a one-off ECS task")
        else:
            assert self.infra is not None
            result = migrate.run_migration(
                self.aws,
                self.infra,
                self.taskdefs["migrate"],
                started_by=f"pmis-deploy/{run.record.id}",
                poll=self.poll,
                timeout=float(self.settings.aws.rollout_timeout_seconds),
            )
            run.change(f"migration: ECS task {result.task_arn.rsplit('/', 1)[-1]} exited 0")
        if self.local and not run.dry_run:
            self._migrate_local_database(run)

    def _migrate_local_database(self, run: pipeline.Run) -> None:
        """local: the same migration for real, on settings.local.database_url (skipped when at head)."""
        from pmis_deploy import db, localrun
        from pmis_deploy.emulators.local import ensure_database

        url = ensure_database(self.settings)  # also when the gate (which starts it) was skipped
        heads = ",".join(sorted(db.script_directory(self.loaded.root).get_heads()))
        if ",".join(sorted(db.current_heads(db.normalise_url(url)))) == heads:
            console.info(f"migration: the local database is already at {heads}")
        else:
            localrun.run_migration(url, self.runner, root=self.loaded.root)
            run.change(f"migration: local database upgraded to {heads}")
        run.record.alembic_head = heads

    # -- services -------------------------------------------------------------------------------------
    def roll_out(self, run: pipeline.Run) -> None:
        if self.infra is None:
            run.change("services: create worker, beat, api, web")
            return
        targets = {w: arn for w, arn in self.taskdefs.items() if w in taskdefs.SERVICES}
        ecs = self.aws.client("ecs")
        actions = rollout.plan_services(ecs, self.settings, self.infra, targets)
        self.before = {a.workload: a.current_taskdef for a in actions}
        run.record.services = dict(targets)
        changing = [a for a in actions if a.action != "none"]
        for action in changing:
            run.change(action.describe())
        for w in taskdefs.SERVICES:
            if w not in targets:
                run.change(f"service {w}: create or update once its task definition is registered")
        if run.dry_run or not changing:
            return
        run.services_changed()
        started = rollout.apply(ecs, actions)
        rollout.wait(
            ecs, self.infra.cluster_name, started, timeout=self.settings.aws.rollout_timeout_seconds, poll=self.poll
        )
        from pmis_deploy.aws.scaling import ensure_autoscaling

        for change in ensure_autoscaling(self.aws, self.settings, self.infra):
            run.change(f"autoscaling: {change.action} {change.resource}")

    # -- health ---------------------------------------------------------------------------------------
    def verify(self, run: pipeline.Run) -> None:
        if run.dry_run:
            return
        from pmis_deploy import health

        path = self.settings.deploy.health_path
        timeout = float(self.settings.deploy.health_timeout_seconds)
        if self.local:
            from pmis_deploy import localrun

            port = int(self.settings.local.api_port)
            url_db = self.settings.local.database_url.get_secret_value()
            with localrun.api_process(url_db, port, root=self.loaded.root) as base:
                health.wait_healthy(base, path, timeout=timeout, interval=0.5)
            url = f"{base}{path}"
            run.record.urls["health (local api process)"] = url
        else:
            assert self.infra is not None
            health.wait_healthy(self.public_url, path, timeout=timeout)
            url = f"{self.public_url}{path}"
            run.record.urls["health"] = url
        console.success(f"health check passed: {url}")

    # -- rollback (called by the pipeline after services changed) -------------------------------------
    def rollback(self, record: ReleaseRecord, previous: ReleaseRecord | None) -> None:
        assert self.infra is not None
        targets: dict[str, str] = {}
        for workload in taskdefs.SERVICES:
            arn = (previous.services.get(workload) if previous else None) or self.before.get(workload)
            if arn:
                targets[workload] = arn
        put_back(self, targets, created=[w for w in taskdefs.SERVICES if w not in targets])


def put_back(release: AwsRelease, targets: dict[str, str], *, created: Sequence[str] = ()) -> list[str]:
    """Put services on `targets` (workload → task-definition ARN) and wait; scale services with no
    earlier task definition to zero. Returns what changed."""
    assert release.infra is not None
    ecs = release.aws.client("ecs")
    actions = rollout.plan_services(ecs, release.settings, release.infra, targets)
    started = rollout.apply(ecs, actions)
    done = [a.describe() for a in actions if a.action != "none"]
    for workload in created:
        from pmis_deploy.aws import naming

        name = naming.ecs_service(release.settings, workload)
        if rollout.describe(ecs, release.infra.cluster_name, [name]):
            ecs.update_service(cluster=release.infra.cluster_name, service=name, desiredCount=0)
            done.append(f"service {name}: no earlier release, scaled to 0")
    rollout.wait(
        ecs,
        release.infra.cluster_name,
        started,
        timeout=release.settings.aws.rollout_timeout_seconds,
        poll=release.poll,
    )
    return done


def resolve_version(runner: Runner, root: Path, *, tag: str | None, allow_dirty: bool) -> tuple[str, str]:
    """(git SHA, image tag): HEAD (tag = sha[:12]), or the commit an explicit --tag names."""
    if tag is None:
        return images.source_version(runner, root, allow_dirty=allow_dirty)
    images.ImageRef("-", "-", tag)  # refuses "latest"
    found = runner.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{tag.split('-')[0]}^{{commit}}"],
        mutating=False,
        check=False,
        cwd=root,
    )
    return (found.stdout.strip() if found.ok and found.stdout.strip() else tag), tag


def confirmed_clients(
    loaded: LoadedSettings, *, action: str, dry_run: bool, yes: bool, aws: AwsClients | None, runner: Runner | None
) -> tuple[AwsClients, Runner]:
    """Ask before `action` in a guarded environment (not for a dry run); then the AWS clients and the
    runner of one deploy or rollback (`aws` and `runner` when given, as tests do)."""
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.guard import confirm
    from pmis_deploy.shell import Runner

    settings = loaded.settings
    if not dry_run:
        confirm(settings.environment.value, required=settings.deploy.confirm, yes=yes, action=action)
    return aws or AwsClients.for_settings(settings, dry_run=dry_run), runner or Runner(dry_run=dry_run)


def deploy(
    loaded: LoadedSettings,
    request: DeployRequest,
    *,
    aws: AwsClients | None = None,
    runner: Runner | None = None,
) -> tuple[ReleaseRecord, int]:
    """Run (or, with dry_run, plan) one release; returns the record and the exit code (0, or 2 = changes planned)."""
    from pmis_deploy.aws.state import S3StateBackend

    settings = loaded.settings
    env = settings.environment.value
    aws, runner = confirmed_clients(
        loaded, action="deploy to", dry_run=request.dry_run, yes=request.yes, aws=aws, runner=runner
    )
    sha, tag = resolve_version(runner, loaded.root, tag=request.tag, allow_dirty=request.allow_dirty or env == "local")
    release = AwsRelease(loaded, aws, runner, tag, build_from_source=request.tag is None)
    backend: S3StateBackend = S3StateBackend.for_settings(aws, settings)
    if not request.dry_run:
        backend.ensure()
    record = ReleaseRecord(id=new_release_id(sha), environment=env, cloud="aws", git_sha=sha, tag=tag)
    steps = [
        pipeline.gate_step(loaded, request.skip_checks, request.checks_report),
        pipeline.Step("build images ∥ provision", release.images_and_infrastructure),
        pipeline.Step("push images", release.push),
        pipeline.image_scan_step(loaded, release.pushed_images),
        pipeline.Step("task definitions", release.register),
        pipeline.Step("migration", release.migrate),
        pipeline.Step("roll out services", release.roll_out),
        pipeline.Step("health check", release.verify),
    ]
    options = pipeline.Options(
        lock_wait_seconds=request.wait_seconds,
        stale_after=dt.timedelta(minutes=settings.deploy.lock_stale_after_minutes),
    )
    result = pipeline.execute(
        pipeline.Run(record, dry_run=request.dry_run),
        steps,
        backend=backend,
        rollback=release.rollback,
        options=options,
    )
    return result, pipeline.exit_code(result, dry_run=request.dry_run)
