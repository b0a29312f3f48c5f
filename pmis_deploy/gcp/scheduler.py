"""G20: the daily check_overdue_tasks as a Cloud Run job triggered by a Cloud Scheduler HTTP job
(Run Admin API `jobs/<job>:run`, OAuth token of the scheduler service account, explicit time zone)."""

from __future__ import annotations

from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx


def desired(ctx: Ctx, *, exists: bool) -> Cmd:
    n, gcp = ctx.names, ctx.settings.gcp
    return g.scheduler_job_http(
        n.scheduler_job,
        exists=exists,
        schedule=gcp.schedule,
        time_zone=gcp.time_zone,
        uri=n.job_run_uri(n.overdue_job),
        service_account_email=n.sa_email("scheduler"),
    )


def differences(ctx: Ctx, current: dict[str, Any] | None) -> list[str]:
    """What differs between the scheduler job and the settings ([] = nothing to do)."""
    if current is None:
        return ["create"]
    n, gcp = ctx.names, ctx.settings.gcp
    target = current.get("httpTarget", {})
    wanted = {
        "schedule": (current.get("schedule"), gcp.schedule),
        "time zone": (current.get("timeZone"), gcp.time_zone),
        "uri": (target.get("uri"), n.job_run_uri(n.overdue_job)),
        "method": (target.get("httpMethod"), "POST"),
        "oauth account": (target.get("oauthToken", {}).get("serviceAccountEmail"), n.sa_email("scheduler")),
    }
    return [f"{k} {have!r} → {want!r}" for k, (have, want) in wanted.items() if have != want]
