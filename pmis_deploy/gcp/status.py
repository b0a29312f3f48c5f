"""`inv status.gcp`: services (URL, ready, latest revision, traffic), revisions, jobs and their last
execution, recent releases and the lock: five reads, run concurrently."""

from __future__ import annotations

from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import run
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.errors import ApiNotEnabled, NotFound
from pmis_deploy.gcp.state import GcsStateBackend


def _ready(resource: dict[str, Any]) -> str:
    for condition in resource.get("status", {}).get("conditions", []) or []:
        if condition.get("type") in ("Ready", "Completed"):
            return str(condition.get("status"))
    return "?"


def collect(ctx: Ctx, *, releases: int = 10) -> dict[str, Any]:
    prefix = ctx.names.prefix + "-"
    backend = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)

    def safe(cmd: g.Cmd) -> Any:
        try:
            return ctx.gcloud.run(cmd) or []
        except (NotFound, ApiNotEnabled):
            return []

    services, revisions, jobs, executions, history, lock = ctx.gcloud.parallel(
        [
            lambda: safe(g.run_services_list()),
            lambda: safe(g.run_revisions_list()),
            lambda: safe(g.run_jobs_list()),
            lambda: safe(g.run_executions_list(limit=20)),
            lambda: backend.list_releases(limit=releases) if backend.exists() else [],
            lambda: backend.read_lock() if backend.exists() else None,
        ]
    )
    ours = [s for s in services if s["metadata"]["name"].startswith(prefix)]
    last_exec: dict[str, dict[str, Any]] = {}
    for e in executions:
        job = (
            e.get("metadata", {}).get("labels", {}).get("run.googleapis.com/job")
            or e["metadata"]["name"].rsplit("-", 1)[0]
        )
        last_exec.setdefault(job, e)
    return {
        "project": ctx.names.project,
        "region": ctx.names.region,
        "services": [
            {
                "name": s["metadata"]["name"],
                "url": s.get("status", {}).get("url"),
                "ready": _ready(s),
                "latest_revision": run.latest_revision(s),
                "traffic": [{"revision": r, "percent": p} for r, p in run.serving(s)],
                "note": run.traffic_note(s),
            }
            for s in ours
        ],
        "revisions": [
            {
                "name": r["metadata"]["name"],
                "service": r["metadata"].get("labels", {}).get("serving.knative.dev/service"),
                "ready": _ready(r),
                "image": (r.get("spec", {}).get("containers") or [{}])[0].get("image"),
                "created": r["metadata"].get("creationTimestamp"),
            }
            for r in revisions
            if r["metadata"]["name"].startswith(prefix)
        ],
        "jobs": [
            {
                "name": j["metadata"]["name"],
                "ready": _ready(j),
                "last_execution": (last_exec.get(j["metadata"]["name"]) or {}).get("metadata", {}).get("name"),
                "last_result": _ready(last_exec.get(j["metadata"]["name"]) or {}),
            }
            for j in jobs
            if j["metadata"]["name"].startswith(prefix)
        ],
        "releases": [
            {"id": r.id, "status": r.status.value, "tag": r.tag, "actor": r.actor, "services": r.services}
            for r in history
        ],
        "lock": lock.describe() if lock else None,
    }


def render(data: dict[str, Any]) -> None:
    from pmis_deploy import console

    console.table(
        f"Cloud Run services ({data['project']}, {data['region']})",
        ["service", "ready", "latest revision", "traffic", "url"],
        [
            (
                s["name"],
                s["ready"],
                s["latest_revision"],
                ", ".join(f"{t['revision']} {t['percent']}%" for t in s["traffic"]),
                s["url"],
            )
            for s in data["services"]
        ],
    )
    for s in data["services"]:
        if s["note"]:
            console.warn(s["note"])
    console.table("Jobs", ["job", "ready", "last execution", "result"], [tuple(j.values()) for j in data["jobs"]])
    console.table(
        "Recent releases",
        ["id", "status", "tag", "by"],
        [(r["id"], r["status"], r["tag"], r["actor"]) for r in data["releases"]],
    )
    console.result(f"lock: {data['lock'] or 'free'}")
