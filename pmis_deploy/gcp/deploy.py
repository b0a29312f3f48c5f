"""`inv deploy.gcp`: plan (reads only) → lock → gate → images → provision → migrate → api/web on new
tagged revisions without traffic → health check → traffic → worker → daily job → record → unlock.

The plan comes first and needs no lock: when nothing would change (same commit, same settings, traffic
already on the latest revisions) the deploy says "no changes" and makes no mutating call at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import DeployError, ReleaseFailed
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import iam, provision, run, scheduler
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.errors import GcloudError
from pmis_deploy.gcp.run import Current, Desired, Images
from pmis_deploy.gcp.secrets import PENDING
from pmis_deploy.gcp.state import GcsStateBackend
from pmis_deploy.pipeline import Run, Step, scan_deferred
from pmis_deploy.release import ReleaseRecord, new_release_id

if TYPE_CHECKING:
    from pmis_deploy.config import LoadedSettings

TRAFFIC_SERVICES = ("api", "web")
SERVICE_TIMEOUT = 1200.0


@dataclass
class DeployPlan:
    """What this release would change, computed from reads only."""

    git_sha: str
    tag: str
    images: Images
    infra: provision.ProvisionPlan
    current: Current
    services: dict[str, Desired]
    jobs: dict[str, Desired]
    deploy: list[str] = field(default_factory=list)  # services with a new spec (new revision)
    move_traffic: list[str] = field(default_factory=list)  # services whose traffic is not on latest
    jobs_to_deploy: list[str] = field(default_factory=list)
    scheduler: list[str] = field(default_factory=list)
    invoker_missing: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def migrate(self) -> bool:
        return "api" in self.deploy or "migrate" in self.jobs_to_deploy

    def lines(self) -> list[str]:
        out = [f"{c.action} {c.resource}" + (f" ({c.detail})" if c.detail else "") for c in self.infra.changes]
        if self.migrate:
            out.append(f"run the migration job {self.jobs['migrate'].name} (alembic upgrade head)")
        out += [f"deploy {self.services[c].name} (new revision, tag {run.traffic_tag(self.tag)})" for c in self.deploy]
        out += [f"move traffic of {self.services[c].name} to its latest revision" for c in self.move_traffic]
        out += [f"deploy job {self.jobs[j].name}" for j in self.jobs_to_deploy if j != "migrate"]
        out += [f"scheduler job: {d}" for d in self.scheduler]
        if self.invoker_missing:
            out.append("grant run.invoker on the daily job to the scheduler service account")
        return out

    @property
    def empty(self) -> bool:
        return not self.lines()


def image_refs(ctx: Ctx, tag: str) -> Images:
    n = ctx.names
    return Images(api=n.image("api", tag), web=n.image("web", tag), worker=n.image("worker", tag))


def make_plan(ctx: Ctx, git_sha: str, tag: str) -> DeployPlan:
    """Read the infrastructure and the Cloud Run state concurrently; compute every change."""
    both: list[Any] = ctx.gcloud.parallel([lambda: provision.make_plan(ctx), lambda: Current.read(ctx)])
    infra: provision.ProvisionPlan = both[0]
    current: Current = both[1]
    images = image_refs(ctx, tag)
    versions = infra.secret_versions
    plan = DeployPlan(
        git_sha, tag, images, infra, current,
        run.desired_services(ctx, images, versions), run.desired_jobs(ctx, images, versions),
    )  # fmt: skip
    for component, want in plan.services.items():
        have = current.services.get(want.name)
        if have is not None:
            note = run.traffic_note(have)
            if note:
                plan.notes.append(note)
        if not run.unchanged(want, have):
            plan.deploy.append(component)
        elif component in TRAFFIC_SERVICES and have is not None and not run.at_latest(have):
            plan.move_traffic.append(component)
    plan.jobs_to_deploy = [j for j, want in plan.jobs.items() if not run.unchanged(want, current.jobs.get(want.name))]
    plan.scheduler = scheduler.differences(ctx, current.scheduler.get(ctx.names.scheduler_job))
    if ctx.names.overdue_job in current.jobs:
        policy = ctx.gcloud.maybe(g.job_get_iam_policy(ctx.names.overdue_job))
        plan.invoker_missing = iam.member(ctx.names.sa_email("scheduler")) not in iam.members_of(
            policy, iam.RUN_INVOKER
        )
    else:
        plan.invoker_missing = True
    return plan


# --- steps -------------------------------------------------------------------------------------------
@dataclass
class Release:
    """Everything the steps share while one release runs."""

    ctx: Ctx
    loaded: LoadedSettings
    plan: DeployPlan
    images: Images
    revisions: dict[str, str] = field(default_factory=dict)  # component → new revision
    api_url: str | None = None

    @property
    def settings(self) -> Any:
        return self.loaded.settings


def _resolve(desired: Desired, versions: dict[str, str]) -> Desired:
    """Replace PENDING secret versions with the ids provision just created (and hash that spec)."""
    options = tuple(_pin(o, versions) for o in desired.cmd.options)
    cmd = replace(desired.cmd, options=options)
    return replace(desired, cmd=cmd, hash=run.spec_hash(cmd))


def _pin(option: str, versions: dict[str, str]) -> str:
    if not option.startswith("--set-secrets=") or f":{PENDING}" not in option:
        return option
    refs = []
    for ref in option.removeprefix("--set-secrets=").split(","):
        env, secret = ref.split("=", 1)
        name, version = secret.rsplit(":", 1)
        if version == PENDING and name not in versions:
            continue  # provision stored nothing for it
        refs.append(f"{env}={name}:{versions[name] if version == PENDING else version}")
    return "--set-secrets=" + ",".join(refs)


def _with_image(desired: Desired, image: str) -> Desired:
    """The same desired spec (and hash) deploying `image` (a digest reference once pushed)."""
    options = tuple(f"--image={image}" if o.startswith("--image=") else o for o in desired.cmd.options)
    return replace(desired, cmd=replace(desired.cmd, options=options))


def images_step(rel: Release) -> Step:
    def build(r: Run) -> None:
        from pmis_deploy import console

        s = rel.settings
        if not s.deploy.push_images or rel.ctx.gcloud.embedded:
            console.info(
                "images are NOT built or pushed in this environment (deploy.push_images=false / embedded GCP): "
                "the embedded Cloud Run runs no containers, the api runs as a local process instead"
            )
            r.record.images = {c: f"{getattr(rel.images, c)} (not pushed: local)" for c in ("api", "web", "worker")}
            return
        pushed = build_and_push(rel, ("api", "worker"))
        rel.images = replace(rel.images, **pushed)
        r.record.images.update(pushed)
        scan_deferred(rel.loaded, r, pushed)  # before the migration job runs the api image

    return Step("images (api, worker)", build)


def build_and_push(
    rel: Release, components: tuple[str, ...], build_args: dict[str, str] | None = None
) -> dict[str, str]:
    """Build and push to Artifact Registry; return component → digest reference."""
    from pmis_deploy import images

    root = rel.loaded.root
    runner = rel.ctx.gcloud.runner
    engine = images.detect_engine(runner, root / rel.settings.local.state_dir)
    out_token = rel.ctx.gcloud.run(g.print_access_token())
    token = out_token.get("token", "") if isinstance(out_token, dict) else str(out_token or "")
    creds = images.Credentials(rel.ctx.names.registry_host, "oauth2accesstoken", token.strip())
    out = {}
    for component in components:
        spec = images.ImageSpec(component, root / "apps" / component, root / "apps" / component / "Dockerfile")
        if build_args:
            spec = spec.with_build_args(**build_args)  # web: NEXT_PUBLIC_API_URL is baked in at build time (G17)
        repository = rel.ctx.names.image(component, rel.plan.tag).rsplit(":", 1)[0]
        ref = images.push(engine, images.build(engine, spec, repository, rel.plan.tag), credentials=creds)
        out[component] = ref.reference
    return out


def provision_step(rel: Release) -> Step:
    def apply(r: Run) -> None:
        changes = rel.plan.infra.changes
        if not changes:
            return
        provision.apply(rel.ctx, rel.plan.infra)
        r.record.changes += [f"{c.action} {c.resource}" for c in changes]
        r.record.secret_versions = dict(rel.plan.infra.secret_versions)

    return Step("provision (converge)", apply)


def migrate_step(rel: Release) -> Step:
    def migrate(r: Run) -> None:
        from pmis_deploy import console

        if not rel.plan.migrate:
            console.info("migration: api image and migrate job unchanged, nothing to run")
            return
        ctx, versions = rel.ctx, rel.plan.infra.secret_versions
        job = _with_image(_resolve(rel.plan.jobs["migrate"], versions), rel.images.api)
        if "migrate" in rel.plan.jobs_to_deploy or any(v == PENDING for v in versions.values()):
            ctx.gcloud.run(job.deploy_cmd(tag=None, no_traffic=False), timeout=SERVICE_TIMEOUT)
        if ctx.gcloud.embedded:  # the real migration, against the local PostgreSQL
            from pmis_deploy.emulators.local import ensure_database
            from pmis_deploy.localrun import run_migration

            r.record.alembic_head = run_migration(ensure_database(rel.settings), ctx.gcloud.runner)
        try:
            ctx.gcloud.run(g.run_job_execute(job.name), timeout=rel.settings.gcp.migrate_timeout_seconds + 120)
        except GcloudError as exc:
            raise ReleaseFailed(
                f"the migration job {job.name} failed: {exc.message}",
                hint="`gcloud run jobs executions list --job=" + job.name + "` and its logs say why; no traffic moved",
            ) from None
        r.change(f"migrated with job {job.name}")

    return Step("migration job", migrate)


def _deploy_service(rel: Release, component: str) -> dict[str, Any]:
    """Deploy one service's new revision (tagged, no traffic if the service exists); return the service."""
    ctx, plan = rel.ctx, rel.plan
    want = _with_image(_resolve(plan.services[component], plan.infra.secret_versions), getattr(rel.images, component))
    exists = want.name in plan.current.services
    tag = run.traffic_tag(plan.tag) if component in TRAFFIC_SERVICES else None
    ctx.gcloud.run(want.deploy_cmd(tag=tag, no_traffic=exists and tag is not None), timeout=SERVICE_TIMEOUT)
    service = ctx.gcloud.run(g.run_service_describe(want.name))
    rel.revisions[component] = run.latest_revision(service)
    return dict(service)


def services_step(rel: Release) -> Step:
    def roll(r: Run) -> None:
        from pmis_deploy import console

        for component in ("api", "web"):
            if component not in rel.plan.deploy:
                continue
            if component == "web" and rel.settings.deploy.push_images and not rel.ctx.gcloud.embedded:
                api = rel.plan.current.services.get(rel.plan.services["api"].name) or {}
                api_url = rel.api_url or api.get("status", {}).get("url")
                if not api_url:
                    raise ReleaseFailed("the api has no URL yet, so the web image cannot be built with it")
                pushed = build_and_push(rel, ("web",), {"NEXT_PUBLIC_API_URL": api_url})
                scan_deferred(rel.loaded, r, pushed)
                rel.images = replace(rel.images, **pushed)
                r.record.images.update(pushed)
            service = _deploy_service(rel, component)
            r.change(f"deployed {service['metadata']['name']} revision {rel.revisions[component]} (no traffic yet)")
            if component == "api":
                rel.api_url = service.get("status", {}).get("url")
                health_check(rel, r, service)
        if not rel.plan.deploy:
            console.info("api and web unchanged")

    return Step("api and web: new revisions, no traffic", roll)


def health_check(rel: Release, r: Run, service: dict[str, Any]) -> None:
    """/health of the new revision: its tag URL, or (embedded) the real api as a local process."""
    from pmis_deploy import console
    from pmis_deploy.health import wait_healthy

    s = rel.settings
    path, timeout = s.deploy.health_path, s.deploy.health_timeout_seconds
    if rel.ctx.gcloud.embedded:
        from pmis_deploy.localrun import api_process

        with api_process(s.local.database_url.get_secret_value(), s.local.api_port) as base:
            console.info(f"health check: the real api as a local process at {base}{path}")
            body = wait_healthy(base, path, timeout=timeout, interval=1.0)
    else:
        url = run.tag_url(service, run.traffic_tag(rel.plan.tag)) or service.get("status", {}).get("url", "")
        console.info(f"health check: {url}{path} (tagged revision {rel.revisions['api']})")
        body = wait_healthy(url, path, timeout=timeout, headers=health_headers(rel.ctx, service))
    if body.get("migration_version") and not r.record.alembic_head:  # the api's /health body
        r.record.alembic_head = str(body["migration_version"])
    r.change("health check passed")


def health_headers(ctx: Ctx, service: dict[str, Any]) -> dict[str, str]:
    """No headers for a public api; an ID token for the service's URL when it requires run.invoker."""
    if ctx.settings.gcp.allow_unauthenticated_api:
        return {}
    from pmis_deploy.gcp.identity import bearer

    return bearer(ctx.gcloud, service.get("status", {}).get("url", ""))


def traffic_step(rel: Release) -> Step:
    def shift(r: Run) -> None:
        existed = rel.plan.current.services
        moves = [
            c
            for c in TRAFFIC_SERVICES
            if rel.plan.services[c].name in existed and (c in rel.plan.deploy or c in rel.plan.move_traffic)
        ]  # a service created by this release already serves its only revision
        if not moves:
            return
        r.services_changed()
        keep = run.traffic_tag(rel.plan.tag)
        cmds = []
        for c in moves:
            old = rel.plan.current.services.get(rel.plan.services[c].name) or {}
            cmds.append(
                g.run_update_traffic(rel.plan.services[c].name, to_latest=True, remove_tags=run.release_tags(old, keep))
            )
        rel.ctx.gcloud.run_all(cmds)
        r.change("traffic: 100% to the new revisions of " + ", ".join(rel.plan.services[c].name for c in moves))

    return Step("traffic to the new revisions", shift)


def worker_step(rel: Release) -> Step:
    def worker(r: Run) -> None:
        ctx, plan = rel.ctx, rel.plan
        if "worker" in plan.deploy:
            r.services_changed()
            _deploy_service(rel, "worker")
            r.change(f"worker {plan.services['worker'].name}: revision {rel.revisions['worker']} (always on)")
        jobs = [j for j in plan.jobs_to_deploy if j == "overdue"]
        for j in jobs:
            job = _with_image(_resolve(plan.jobs[j], plan.infra.secret_versions), rel.images.worker)
            ctx.gcloud.run(job.deploy_cmd(tag=None, no_traffic=False), timeout=SERVICE_TIMEOUT)
            r.change(f"deployed job {job.name}")
        if plan.invoker_missing:
            policy = ctx.gcloud.maybe(g.job_get_iam_policy(ctx.names.overdue_job))
            member = iam.member(ctx.names.sa_email("scheduler"))
            if member not in iam.members_of(policy, iam.RUN_INVOKER):
                ctx.gcloud.run(g.job_add_binding(ctx.names.overdue_job, member, iam.RUN_INVOKER))
                r.change("run.invoker on the daily job for the scheduler account")
        if plan.scheduler:
            exists = ctx.names.scheduler_job in plan.current.scheduler
            ctx.gcloud.run(scheduler.desired(ctx, exists=exists))
            r.change(f"scheduler job {ctx.names.scheduler_job}: " + "; ".join(plan.scheduler))

    return Step("worker and the daily job", worker)


def record_step(rel: Release) -> Step:
    def record(r: Run) -> None:
        now = {s["metadata"]["name"]: s for s in rel.ctx.gcloud.run(g.run_services_list()) or []}
        for component, desired in rel.plan.services.items():
            service = now.get(desired.name)
            if not service:
                continue
            live = run.serving(service)
            r.record.services[component] = live[0][0] if live else run.latest_revision(service)
            url = service.get("status", {}).get("url")
            if url and component in TRAFFIC_SERVICES:
                r.record.urls[component] = url
        r.record.secret_versions = dict(rel.plan.infra.secret_versions)

    return Step("record", record)


def _current_by_component(rel: Release) -> dict[str, dict[str, Any]]:
    return {
        c: rel.plan.current.services[d.name]
        for c, d in rel.plan.services.items()
        if d.name in rel.plan.current.services
    }


def rollback_hook(rel: Release) -> Any:
    """Put traffic back on the previous release's revisions (or, with none, on what served before)."""

    def put_back(record: ReleaseRecord, previous: ReleaseRecord | None) -> None:
        before = {c: run.serving(s)[0][0] for c, s in _current_by_component(rel).items() if run.serving(s)}
        target = dict(previous.services) if previous else before
        cmds = [
            g.run_update_traffic(rel.plan.services[c].name, to_revisions={rev: 100})
            for c, rev in target.items()
            if c in TRAFFIC_SERVICES and c in rel.plan.services
        ]
        rel.ctx.gcloud.run_all(cmds)

    return put_back


# --- the task's entry point ----------------------------------------------------------------------------
@dataclass
class Outcome:
    record: ReleaseRecord | None
    plan: DeployPlan
    exit_code: int
    summary: str


def deploy(
    loaded: LoadedSettings,
    *,
    tag: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    skip_gate: str | None = None,
    lock_wait: float = 0.0,
    ctx: Ctx | None = None,
    checks_report: str | None = None,
) -> Outcome:
    import datetime as dt

    from pmis_deploy import console, images, pipeline
    from pmis_deploy.guard import confirm

    s = loaded.settings
    ctx = ctx or Ctx.for_settings(s, dry_run=dry_run)
    git_sha, image_tag = images.source_version(
        ctx.gcloud.runner, loaded.root, allow_dirty=s.environment.value == "local"
    )
    image_tag = tag or image_tag
    started = time.monotonic()
    with console.step(f"planning the release of {image_tag} to {s.environment.value} (GCP {ctx.names.project})"):
        plan = make_plan(ctx, git_sha, image_tag)
    for note in plan.notes:
        console.warn(note)
    provision.show(plan.infra)
    record = ReleaseRecord(
        id=new_release_id(git_sha), environment=s.environment.value, cloud="gcp", git_sha=git_sha, tag=image_tag
    )
    if plan.empty:
        console.success(f"no changes: {s.environment.value} already runs {image_tag} with these settings")
        return Outcome(None, plan, 0, "no changes")
    if dry_run:
        record.changes = plan.lines()
        return Outcome(record, plan, 2, pipeline.render_summary(record, dry_run=True))
    confirm(s.environment.value, required=s.deploy.confirm, yes=yes, action="deploy to")
    backend = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)
    backend.ensure()
    rel = Release(ctx, loaded, plan, plan.images)
    steps = [
        pipeline.gate_step(loaded, skip_gate, checks_report),
        images_step(rel),
        provision_step(rel),
        migrate_step(rel),
        services_step(rel),
        traffic_step(rel),
        worker_step(rel),
        record_step(rel),
    ]
    options = pipeline.Options(
        lock_wait_seconds=lock_wait, stale_after=dt.timedelta(minutes=s.deploy.lock_stale_after_minutes)
    )
    record.timings["plan"] = round(time.monotonic() - started, 3)
    try:
        final = pipeline.execute(Run(record), steps, backend=backend, rollback=rollback_hook(rel), options=options)
    except DeployError:
        raise
    return Outcome(final, plan, 0, pipeline.render_summary(final))
