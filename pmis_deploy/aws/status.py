"""`inv status.aws`: services (running/desired, rollout state), the current release, recent releases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming, rollout, taskdefs

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings


def collect(aws: AwsClients, settings: Settings, *, releases: int = 10) -> dict[str, Any]:
    """Everything `status` shows, as JSON-safe data (reads only)."""
    from pmis_deploy.aws.state import S3StateBackend

    cluster = naming.cluster(settings)
    names = {naming.ecs_service(settings, w): w for w in taskdefs.SERVICES}
    try:
        found = rollout.describe(aws.client("ecs"), cluster, list(names))
    except Exception as exc:  # no cluster yet
        if "ClusterNotFound" not in type(exc).__name__ + str(exc):
            raise
        found = {}
    services: list[dict[str, Any]] = []
    running: dict[str, str] = {}
    for name, workload in names.items():
        svc = found.get(name)
        if svc is None:
            services.append({"service": name, "status": "MISSING"})
            continue
        running[workload] = svc["taskDefinition"]
        primary: dict[str, Any] = next((d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        events = svc.get("events") or [{}]
        services.append(
            {
                "service": name,
                "status": svc.get("status"),
                "task_definition": rollout.short(svc.get("taskDefinition")),
                "running": svc.get("runningCount", 0),
                "desired": svc.get("desiredCount", 0),
                "pending": svc.get("pendingCount", 0),
                "rollout": primary.get("rolloutState"),
                "deployments": len(svc.get("deployments", [])),
                "last_event": events[0].get("message"),
            }
        )
    backend = S3StateBackend.for_settings(aws, settings)
    history = backend.list_releases(limit=releases)
    current = next(
        (
            r
            for r in history
            if r.good and r.services and all(rollout.same_taskdef(running.get(w), a) for w, a in r.services.items())
        ),
        None,
    )
    lock = backend.read_lock() if history or backend.exists() else None
    return {
        "environment": settings.environment.value,
        "cluster": cluster,
        "services": services,
        "current_release": current.id if current else None,
        "lock": lock.describe() if lock else None,
        "releases": [release_row(r) for r in history],
    }


def release_row(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status.value,
        "tag": record.tag,
        "actor": record.actor,
        "started_at": record.started_at.isoformat(timespec="seconds"),
        "seconds": record.timings.get("total"),
        "changes": len(record.changes),
        "gate": gate_outcome(record),
        "note": record.error.splitlines()[0][:80] if record.error else (record.rolled_back_to or ""),
    }


def gate_outcome(record: Any) -> str:
    if record.gate_skipped:
        return "skipped"
    if not record.checks:
        return "-"
    return "passed" if all(v in ("PASS", "WAIVED") for v in record.checks.values()) else "failed"


def render(data: dict[str, Any], *, as_json: bool) -> None:
    from pmis_deploy import console

    if as_json:
        import json

        console.result(json.dumps(data, indent=2, default=str))
        return
    console.table(
        f"{data['environment']}: services in {data['cluster']}",
        ["service", "task definition", "running", "rollout", "deploys"],
        [
            [
                s["service"].removeprefix(f"{data['cluster']}-"),
                s.get("task_definition", s["status"]),
                f"{s.get('running', 0)}/{s.get('desired', 0)}",
                s.get("rollout") or "-",
                s.get("deployments", 0),
            ]
            for s in data["services"]
        ],
    )
    for s in data["services"]:
        if s.get("last_event"):
            console.result(f"  {s['service']}: {s['last_event']}")
    console.result(f"current release: {data['current_release'] or 'none recorded'}")
    if data["lock"]:
        console.result(f"deploy lock: held by {data['lock']}")
    render_releases(data["releases"], title="recent releases")


def render_releases(rows: list[dict[str, Any]], *, title: str) -> None:
    from pmis_deploy import console

    headers = ["release", "status", "seconds", "gate", "note"]
    rows_out = [[r["id"], r["status"], f"{r['seconds'] or 0:.0f}", r["gate"], r["note"][:30]] for r in rows]
    console.table(title, headers, rows_out)
