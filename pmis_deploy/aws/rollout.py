"""Put ECS services on given task definitions and wait until every deployment is really done.

    plan = plan_services(ecs, settings, infra, {"api": arn, ...})    # describe first (never a duplicate create)
    ids = apply(ecs, plan)                                          # create_service / update_service
    wait(ecs, infra.cluster_name, ids, timeout=900, poll=6)          # COMPLETED, or RolloutFailed

Every service gets the deployment circuit breaker with rollback (V5), private subnets and its own
security group (V3/V8), an execute-command channel, and (api, web) its ALB target group with a health
check grace period. An existing ACTIVE service is updated, never re-created (V6). Waiting follows the
deployment id the update started: it is done at rolloutState COMPLETED; FAILED (a circuit-breaker
rollback), a replaced deployment, a task stopping for a reason that cannot heal (image pull, secrets),
or the timeout are failures (V7). Service events and stopped-task reasons are shown while waiting.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.taskdefs import PORT_OF, SERVICES
from pmis_deploy.errors import DeployError

if TYPE_CHECKING:
    from pmis_deploy.aws.infra import AwsInfra
    from pmis_deploy.config import Settings

DEPLOYMENT_CONFIG: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# beat must never run twice (periodic tasks would be duplicated): stop the old task before the new one.
SINGLETON_CONFIG: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 100,
    "minimumHealthyPercent": 0,
}
SECURITY_GROUP_OF = {"api": "api", "web": "web", "worker": "worker", "beat": "worker"}
GRACE_SECONDS = 60
# Stopped-task reasons that will not heal by retrying: fail at once instead of waiting for the breaker.
FATAL_REASONS = re.compile(
    r"CannotPullContainerError|ResourceInitializationError|unable to pull secrets|"
    r"ResourceNotFoundException|AccessDeniedException|CannotStartContainerError",
    re.IGNORECASE,
)


class RolloutFailed(DeployError):
    """A service deployment did not reach COMPLETED."""


@dataclass
class ServiceAction:
    workload: str
    service: str
    action: str  # "create" | "update" | "none"
    request: dict[str, Any]
    current_taskdef: str | None = None

    def describe(self) -> str:
        target = short(self.request["taskDefinition"])
        if self.action == "create":
            return f"create service {self.service} on {target}"
        if self.action == "update":
            return f"update service {self.service}: {short(self.current_taskdef)} → {target}"
        return f"service {self.service} already on {target}"


def short(arn: str | None) -> str:
    """family:revision of a task-definition ARN."""
    return (arn or "-").rsplit("/", 1)[-1]


def desired_count(settings: Settings, workload: str) -> int:
    return 1 if workload == "beat" else int(getattr(settings.aws.services, workload).desired_count)


def create_request(settings: Settings, infra: AwsInfra, workload: str, taskdef_arn: str) -> dict[str, Any]:
    """The CreateService request of one workload (pure)."""
    request: dict[str, Any] = {
        "cluster": infra.cluster_name,
        "serviceName": naming.ecs_service(settings, workload),
        "taskDefinition": taskdef_arn,
        "desiredCount": desired_count(settings, workload),
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": network(infra, workload),
        "deploymentConfiguration": SINGLETON_CONFIG if workload == "beat" else DEPLOYMENT_CONFIG,
        "deploymentController": {"type": "ECS"},
        "enableExecuteCommand": True,
        "enableECSManagedTags": True,
        "propagateTags": "SERVICE",
        "tags": [
            {"key": "environment", "value": settings.environment.value},
            {"key": "managed-by", "value": "pmis-deploy"},
        ],
    }
    if workload in PORT_OF:
        request["loadBalancers"] = [
            {
                "targetGroupArn": infra.target_group_arns[workload],
                "containerName": workload,
                "containerPort": PORT_OF[workload],
            }
        ]
        request["healthCheckGracePeriodSeconds"] = GRACE_SECONDS
    return request


def network(infra: AwsInfra, workload: str) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": list(infra.private_subnet_ids),
            "securityGroups": [infra.security_groups[SECURITY_GROUP_OF[workload]]],
            "assignPublicIp": "DISABLED",
        }
    }


def update_request(create: Mapping[str, Any], *, force: bool = False) -> dict[str, Any]:
    """The UpdateService request putting an existing service on the create request's task definition.

    desiredCount is left alone (autoscaling owns it); load balancers cannot change on update."""
    request = {
        "cluster": create["cluster"],
        "service": create["serviceName"],
        "taskDefinition": create["taskDefinition"],
        "deploymentConfiguration": create["deploymentConfiguration"],
        "networkConfiguration": create["networkConfiguration"],
        "enableExecuteCommand": True,
        "forceNewDeployment": force,
    }
    if "healthCheckGracePeriodSeconds" in create:
        request["healthCheckGracePeriodSeconds"] = create["healthCheckGracePeriodSeconds"]
    return request


def describe(ecs: Any, cluster: str, services: list[str]) -> dict[str, dict[str, Any]]:
    """ACTIVE/DRAINING services by name (missing and INACTIVE ones are absent)."""
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(services), 10):  # DescribeServices takes at most 10 names
        response = ecs.describe_services(cluster=cluster, services=services[i : i + 10])
        for svc in response.get("services", []):
            if svc.get("status") != "INACTIVE":
                found[svc["serviceName"]] = svc
    return found


def plan_services(
    ecs: Any, settings: Settings, infra: AwsInfra, taskdefs: Mapping[str, str], *, force: bool = False
) -> list[ServiceAction]:
    """What to do per service (in rollout order) to run `taskdefs` (workload → task-definition ARN)."""
    workloads = [w for w in SERVICES if w in taskdefs]
    names = [naming.ecs_service(settings, w) for w in workloads]
    existing = describe(ecs, infra.cluster_name, names)
    actions = []
    for workload, name in zip(workloads, names, strict=True):
        request = create_request(settings, infra, workload, taskdefs[workload])
        svc = existing.get(name)
        if svc is None or svc.get("status") == "DRAINING":
            actions.append(ServiceAction(workload, name, "create", request))
            continue
        current = svc.get("taskDefinition")
        config = svc.get("deploymentConfiguration") or {}
        drift = config.get("deploymentCircuitBreaker") != request["deploymentConfiguration"]["deploymentCircuitBreaker"]
        action = "update" if force or drift or not same_taskdef(current, taskdefs[workload]) else "none"
        actions.append(ServiceAction(workload, name, action, request, current))
    return actions


def same_taskdef(a: str | None, b: str | None) -> bool:
    return bool(a and b) and short(a) == short(b)


def apply(ecs: Any, actions: list[ServiceAction], *, force: bool = False) -> dict[str, str]:
    """Create or update; returns service name → the deployment id to wait on (changed services only)."""
    started: dict[str, str] = {}
    for action in actions:
        if action.action == "create":
            svc = ecs.create_service(**action.request)["service"]
        elif action.action == "update":
            svc = ecs.update_service(**update_request(action.request, force=force))["service"]
        else:
            continue
        started[action.service] = primary(svc)["id"]
    return started


def primary(service: Mapping[str, Any]) -> dict[str, Any]:
    deployments = service.get("deployments") or []
    for deployment in deployments:
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    raise RolloutFailed(f"service {service.get('serviceName')} has no PRIMARY deployment")


@dataclass
class _Watch:
    """What has been shown already while waiting."""

    since: dt.datetime
    events: set[str] = field(default_factory=set)
    stopped: set[str] = field(default_factory=set)


def wait(
    ecs: Any,
    cluster: str,
    deployments: Mapping[str, str],
    *,
    timeout: float,
    poll: float,
    show: Callable[[str], None] | None = None,
) -> None:
    """Block until every deployment (service → id) is COMPLETED; raise RolloutFailed on the first failure."""
    if not deployments:
        return
    from pmis_deploy import console

    show = show or console.info
    watch = _Watch(since=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
    pending = dict(deployments)
    deadline = time.monotonic() + timeout
    while True:
        services = describe(ecs, cluster, list(pending))
        for name, deployment_id in list(pending.items()):
            svc = services.get(name)
            if svc is None:
                raise RolloutFailed(f"service {name} disappeared while deploying")
            _show_events(svc, watch, show)
            _check_stopped_tasks(ecs, cluster, svc, watch, show)
            if _deployment_done(svc, deployment_id):
                show(f"{name}: deployment {deployment_id} COMPLETED ({short(svc.get('taskDefinition'))})")
                del pending[name]
        if not pending:
            return
        if time.monotonic() >= deadline:
            states = ", ".join(f"{n} ({_state(services.get(n), d)})" for n, d in pending.items())
            raise RolloutFailed(
                f"timed out after {timeout:.0f}s waiting for deployments to complete: {states}",
                hint="`inv status.aws` shows the services; raise aws.rollout_timeout_seconds if they are just slow",
            )
        time.sleep(poll)


def _deployment_done(svc: Mapping[str, Any], deployment_id: str) -> bool:
    name = svc.get("serviceName")
    ours = next((d for d in svc.get("deployments", []) if d.get("id") == deployment_id), None)
    if ours is None:
        raise RolloutFailed(
            f"{name}: deployment {deployment_id} was replaced (circuit-breaker rollback or another deploy); "
            f"now on {short(svc.get('taskDefinition'))}"
        )
    state = ours.get("rolloutState")
    if state == "FAILED":
        raise RolloutFailed(
            f"{name}: deployment {deployment_id} FAILED: {ours.get('rolloutStateReason', 'no reason given')} "
            f"(failed tasks: {ours.get('failedTasks', 0)})"
        )
    return bool(state == "COMPLETED" and ours.get("status") == "PRIMARY")


def _state(svc: Mapping[str, Any] | None, deployment_id: str) -> str:
    for d in (svc or {}).get("deployments", []):
        if d.get("id") == deployment_id:
            return f"{d.get('rolloutState')}, {d.get('runningCount')}/{d.get('desiredCount')} running"
    return "unknown"


def _show_events(svc: Mapping[str, Any], watch: _Watch, show: Callable[[str], None]) -> None:
    for event in reversed(svc.get("events", [])):  # newest first in the API
        created = event.get("createdAt")
        if event.get("id") in watch.events:
            continue
        watch.events.add(event.get("id"))
        if isinstance(created, dt.datetime) and created.astimezone(dt.UTC) < watch.since:
            continue
        show(f"  {svc.get('serviceName')}: {event.get('message')}")


def _check_stopped_tasks(
    ecs: Any, cluster: str, svc: Mapping[str, Any], watch: _Watch, show: Callable[[str], None]
) -> None:
    name = svc["serviceName"]
    arns = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="STOPPED").get("taskArns", [])
    new = [a for a in arns if a not in watch.stopped]
    if not new:
        return
    watch.stopped.update(new)
    target = svc.get("taskDefinition")
    for task in ecs.describe_tasks(cluster=cluster, tasks=new[:100]).get("tasks", []):
        stopped_at = task.get("stoppedAt")
        if isinstance(stopped_at, dt.datetime) and stopped_at.astimezone(dt.UTC) < watch.since:
            continue
        containers = "; ".join(
            f"{c.get('name')} exit {c.get('exitCode')}" + (f" ({c['reason']})" if c.get("reason") else "")
            for c in task.get("containers", [])
        )
        reason = task.get("stoppedReason", "")
        show(f"  {name}: task {task['taskArn'].rsplit('/', 1)[-1]} stopped: {reason} [{containers}]")
        if FATAL_REASONS.search(f"{reason} {containers}") and same_taskdef(task.get("taskDefinitionArn"), target):
            raise RolloutFailed(f"{name}: a new task cannot start: {reason} [{containers}]")
