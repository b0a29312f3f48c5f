"""The database migration as a one-off ECS task from the release's own image (guide-defects M5/M6).

    result = run_migration(aws, infra, taskdef_arn, started_by="pmis-deploy/<release>", poll=6)

`run_task` on Fargate in the private subnets, then the `tasks_stopped` waiter, then the container's
exitCode must be 0 — anything else (a non-zero exit, a task that never started, a missing exit code)
raises MigrationFailed with the stop reason and the tail of the task's log, before any service changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import DeployError

if TYPE_CHECKING:
    from pmis_deploy.aws.infra import AwsInfra
    from pmis_deploy.aws.session import AwsClients

CONTAINER = "migrate"


class MigrationFailed(DeployError):
    """The one-off migration task did not exit 0; no service was changed."""


@dataclass(frozen=True)
class MigrationResult:
    task_arn: str
    exit_code: int
    stopped_reason: str


def run_task_request(infra: AwsInfra, taskdef_arn: str, *, started_by: str) -> dict[str, Any]:
    """The RunTask request: Fargate, private subnets, the worker security group, no public IP."""
    return {
        "cluster": infra.cluster_name,
        "taskDefinition": taskdef_arn,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": started_by[:128],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(infra.private_subnet_ids),
                "securityGroups": [infra.security_groups["worker"]],
                "assignPublicIp": "DISABLED",
            }
        },
        "propagateTags": "TASK_DEFINITION",
    }


def run_migration(
    aws: AwsClients, infra: AwsInfra, taskdef_arn: str, *, started_by: str, poll: float, timeout: float = 1800
) -> MigrationResult:
    """Run `alembic upgrade head` once and block until it exits; raise MigrationFailed unless exit 0."""
    from pmis_deploy import console

    ecs = aws.client("ecs")
    response = ecs.run_task(**run_task_request(infra, taskdef_arn, started_by=started_by))
    if response.get("failures") or not response.get("tasks"):
        reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in response.get("failures", []))
        raise MigrationFailed(f"the migration task did not start: {reasons or 'no task returned'}")
    task_arn = response["tasks"][0]["taskArn"]
    console.info(f"migration task {task_arn.rsplit('/', 1)[-1]} started; waiting for it to stop")
    ecs.get_waiter("tasks_stopped").wait(
        cluster=infra.cluster_name,
        tasks=[task_arn],
        WaiterConfig={"Delay": poll, "MaxAttempts": max(1, int(timeout / max(poll, 0.01)))},
    )
    task = ecs.describe_tasks(cluster=infra.cluster_name, tasks=[task_arn])["tasks"][0]
    container = next((c for c in task.get("containers", []) if c.get("name") == CONTAINER), None)
    container = container or (task.get("containers") or [{}])[0]
    exit_code = container.get("exitCode")
    reason = task.get("stoppedReason", "") or container.get("reason", "")
    if exit_code != 0:
        tail = log_tail(aws, infra, task_arn)
        raise MigrationFailed(
            f"the migration task exited {exit_code if exit_code is not None else 'without an exit code'}"
            + (f" ({reason})" if reason else "")
            + (f"\n{tail}" if tail else ""),
            hint="no service was changed; fix the migration (its log is in CloudWatch "
            f"{infra.log_group}, stream {CONTAINER}/{CONTAINER}/{task_arn.rsplit('/', 1)[-1]}) and deploy again",
        )
    return MigrationResult(task_arn, 0, reason)


def log_tail(aws: AwsClients, infra: AwsInfra, task_arn: str, lines: int = 20) -> str:
    """The last lines the task logged (best effort: '' when the stream does not exist)."""
    stream = f"{CONTAINER}/{CONTAINER}/{task_arn.rsplit('/', 1)[-1]}"
    try:
        events = aws.client("logs").filter_log_events(
            logGroupName=infra.log_group, logStreamNames=[stream], limit=1000
        )["events"]
    except Exception:
        return ""
    return "\n".join("  | " + e.get("message", "").rstrip() for e in events[-lines:])
