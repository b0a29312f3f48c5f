"""Cloud Run: desired service/job specs (argv + a spec hash label), current state read in one list per
kind, traffic analysis (pinned / split), deploy with --no-traffic --tag, traffic moves.

A service's desired spec is its `run deploy` argv without the per-release `--no-traffic/--tag` flags;
its sha256 goes on the service as label `pmis-spec`, so "unchanged" is one string comparison and a
second deploy of the same commit and settings changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import PORTS, SECRET_ENV, SQL_WORKLOADS, WORKLOAD_SECRETS
from pmis_deploy.gcp.network import egress_flags

SPEC_LABEL = "pmis-spec"
RELEASE_TAG = re.compile(r"^r-[a-z0-9-]+$")


def spec_hash(cmd: Cmd) -> str:
    return hashlib.sha256("\0".join((*cmd.path, *cmd.args, *cmd.options)).encode()).hexdigest()[:16]


def traffic_tag(image_tag: str) -> str:
    """The Cloud Run traffic tag of a release (lowercase letters, digits, dashes; ≤ 46 chars)."""
    return ("r-" + re.sub(r"[^a-z0-9-]", "-", image_tag.lower()))[:40].rstrip("-")


@dataclass(frozen=True)
class Desired:
    """One service or job as this release wants it."""

    component: str  # api | web | worker | migrate | overdue
    name: str
    cmd: Cmd  # without the per-release flags and without the label
    hash: str

    def deploy_cmd(self, *, tag: str | None, no_traffic: bool) -> Cmd:
        options = (*self.cmd.options, f"--labels={SPEC_LABEL}={self.hash}")
        if tag:
            options = (*options, f"--tag={tag}")
        if no_traffic:
            options = (*options, "--no-traffic")
        return replace(self.cmd, options=options)


def _with_hash(component: str, name: str, cmd: Cmd) -> Desired:
    return Desired(component, name, cmd, spec_hash(cmd))


@dataclass
class Images:
    api: str
    web: str
    worker: str


def secret_map(ctx: Ctx, workload: str, versions: dict[str, str]) -> dict[str, str]:
    """ENV (or mount path) → `secret:VERSION`, pinned to the version provision left (rollback-safe; S4:
    never plain env). A secret with no version (nothing to store, e.g. no TLS CA) is left out."""
    out = {}
    for key in WORKLOAD_SECRETS[workload]:
        name = ctx.names.secret(key)
        if name in versions:
            out[SECRET_ENV[key]] = f"{name}:{versions[name]}"
    return out


def _service_cmd(ctx: Ctx, component: str, image: str, versions: dict[str, str]) -> Cmd:
    s, n = ctx.settings, ctx.names
    svc = getattr(s.gcp.services, component)
    workload = component
    cmd = g.run_deploy(
        n.service(component),
        image=image,
        service_account=n.sa_email(workload),
        port=PORTS[component],
        cpu=svc.cpu,
        memory=svc.memory,
        min_instances=max(svc.min_instances, 1 if component == "worker" else 0),
        max_instances=svc.max_instances,
        env={"ENVIRONMENT": s.environment.value, "LOG_LEVEL": s.log_level.value},
        secrets=secret_map(ctx, workload, versions),
        cloudsql=n.connection_name if workload in SQL_WORKLOADS else None,
        egress=egress_flags(ctx) if component != "web" else (),
        labels={},
        public=component == "web" or (component == "api" and s.gcp.allow_unauthenticated_api),
        tag=None,
        no_traffic=False,
        always_on=component == "worker",
    )
    return cmd


def desired_services(ctx: Ctx, images: Images, versions: dict[str, str]) -> dict[str, Desired]:
    return {
        c: _with_hash(c, ctx.names.service(c), _service_cmd(ctx, c, getattr(images, c), versions))
        for c in ("api", "web", "worker")
    }


def desired_jobs(ctx: Ctx, images: Images, versions: dict[str, str]) -> dict[str, Desired]:
    s, n = ctx.settings, ctx.names
    env = {"ENVIRONMENT": s.environment.value, "LOG_LEVEL": s.log_level.value}
    migrate = g.run_job_deploy(
        n.migrate_job,
        image=images.api,
        service_account=n.sa_email("migrate"),
        command=["alembic"],
        args=["upgrade", "head"],
        env=env,
        secrets=secret_map(ctx, "migrate", versions),
        cloudsql=n.connection_name,
        egress=(),
        labels={},
        task_timeout=s.gcp.migrate_timeout_seconds,
        max_retries=0,
    )
    overdue = g.run_job_deploy(
        n.overdue_job,
        image=images.worker,
        service_account=n.sa_email("worker"),
        command=["python"],
        args=["-m", "worker.jobs.check_overdue_tasks"],
        env=env,
        secrets=secret_map(ctx, "worker", versions),
        cloudsql=n.connection_name,
        egress=egress_flags(ctx),
        labels={},
        task_timeout=s.gcp.job_timeout_seconds,
        max_retries=1,
    )
    return {
        "migrate": _with_hash("migrate", n.migrate_job, migrate),
        "overdue": _with_hash("overdue", n.overdue_job, overdue),
    }


# --- current state ---------------------------------------------------------------------------------
@dataclass
class Current:
    """What one list call per kind says about our services and jobs."""

    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → Knative Service
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduler: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, ctx: Ctx) -> Current:
        from pmis_deploy.gcp.errors import ApiNotEnabled, NotFound

        def safe(cmd: Cmd) -> Any:
            try:
                return ctx.gcloud.run(cmd) or []
            except (ApiNotEnabled, NotFound):
                return []

        services, jobs, scheduler = ctx.gcloud.parallel(
            [
                lambda: safe(g.run_services_list()),
                lambda: safe(g.run_jobs_list()),
                lambda: safe(g.scheduler_jobs_list()),
            ]
        )
        return cls(
            {s["metadata"]["name"]: s for s in services},
            {j["metadata"]["name"]: j for j in jobs},
            {j["name"].rsplit("/", 1)[-1]: j for j in scheduler},
        )


def labels_of(resource: dict[str, Any] | None) -> dict[str, str]:
    if not resource:
        return {}
    return {
        **(resource.get("metadata", {}).get("labels") or {}),
        **((resource.get("spec", {}).get("template", {}).get("metadata", {}) or {}).get("labels") or {}),
    }


def unchanged(desired: Desired, current: dict[str, Any] | None) -> bool:
    return labels_of(current).get(SPEC_LABEL) == desired.hash


def serving(service: dict[str, Any]) -> list[tuple[str, int]]:
    """(revision, percent) of the traffic actually served (status.traffic, percent > 0)."""
    out = []
    for entry in service.get("status", {}).get("traffic", []) or []:
        if entry.get("percent"):
            out.append((entry.get("revisionName", "?"), int(entry["percent"])))
    return out


def traffic_note(service: dict[str, Any]) -> str | None:
    """Say when traffic is pinned to a revision or split (what this release will do to it), else None."""
    name = service.get("metadata", {}).get("name", "?")
    spec = [e for e in service.get("spec", {}).get("traffic", []) or [] if e.get("percent")]
    live = serving(service)
    if len(live) > 1:
        split = ", ".join(f"{r} {p}%" for r, p in live)
        return f"{name}: traffic is split ({split}); this release moves 100% to its new revision"
    if spec and not any(e.get("latestRevision") for e in spec):
        pinned = live[0][0] if live else spec[0].get("revisionName", "?")
        return (
            f"{name}: traffic is pinned to {pinned} (e.g. by a rollback); this release moves 100% to its new revision"
        )
    return None


def at_latest(service: dict[str, Any]) -> bool:
    """All traffic on the latest ready revision."""
    status = service.get("status", {})
    live = serving(service)
    return len(live) == 1 and live[0][0] == status.get("latestReadyRevisionName")


def latest_revision(service: dict[str, Any]) -> str:
    return str(service.get("status", {}).get("latestCreatedRevisionName", ""))


def tag_url(service: dict[str, Any], tag: str) -> str | None:
    for entry in service.get("status", {}).get("traffic", []) or []:
        if entry.get("tag") == tag:
            return entry.get("url")
    return None


def release_tags(service: dict[str, Any], keep: str) -> list[str]:
    """Our older release tags on the service (removed when traffic moves)."""
    tags = {e.get("tag") for e in service.get("spec", {}).get("traffic", []) or [] if e.get("tag")}
    return sorted(t for t in tags if t and t != keep and RELEASE_TAG.match(t))
