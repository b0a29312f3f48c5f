"""moto's ECS, extended: deployments roll, fail and roll back; one-off tasks stop with an exit code.

`install()` patches moto's ECS backend and response classes in the current process (idempotent):
the embedded server calls it at start, and so does the in-process test server. What changes and
which knobs drive it is described in `pmis_deploy.emulators.aws`. The model:

- Each service carries a `Rollouts` (its deployments, newest first). Every describe_services call is
  one poll: each IN_PROGRESS PRIMARY deployment takes one step (`_step`).
- A healthy deployment has its tasks running after the first poll and is COMPLETED after
  `rollout_polls` polls (and `rollout_seconds`); the others then disappear (drained).
- A failing one (PMIS_EMULATOR_FAIL=1, or an image in `fail_images`) starts tasks that stop at once;
  when failedTasks reaches the threshold and the circuit breaker is on, it is FAILED, and with
  rollback a new PRIMARY deployment on the last completed task definition starts.
- run_task tasks become `OneOffTask`s: PENDING → RUNNING → STOPPED with an exit code.
"""

from __future__ import annotations

import contextlib
import functools
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import InvalidParameterException

from pmis_deploy.emulators.aws_control import KNOBS, LOCK, serving

FAIL_MARKER = "PMIS_EMULATOR_FAIL"
EXIT_CODE_MARKER = "PMIS_EMULATOR_EXIT_CODE"
ESSENTIAL_EXITED = "Essential container in task exited"
MAX_EVENTS = 100
MAX_STOPPED_TASKS_PER_POLL = 3
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}

Backend = ecs_models.EC2ContainerServiceBackend
_ORIGINAL: dict[str, Any] = {}


def _now() -> datetime:
    return datetime.now(timezone.utc)  # noqa: UP017 - moto compares with aware datetimes


def _new_deployment_id() -> str:
    return f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"


# ---- the task definition knobs ---------------------------------------------------------------------------


def _environment(container: dict[str, Any]) -> dict[str, str]:
    return {e.get("name", ""): str(e.get("value", "")) for e in container.get("environment") or []}


def task_definition_fails(task_definition: Any) -> bool:
    """True if tasks of this task definition exit non-zero (PMIS_EMULATOR_FAIL or a `fail_images` match)."""
    for container in task_definition.container_definitions:
        if _environment(container).get(FAIL_MARKER, "").lower() in ("1", "true", "yes"):
            return True
        image = str(container.get("image", ""))
        if any(marker and marker in image for marker in KNOBS.fail_images):
            return True
    return False


def one_off_exit_code(task_definition: Any, overrides: dict[str, Any] | None) -> int:
    """The exit code of a one-off task: override env, then task definition env, then fail markers, then knob."""
    containers = task_definition.container_definitions
    first = containers[0] if containers else {}
    for override in (overrides or {}).get("containerOverrides") or []:
        if override.get("name") in (None, first.get("name")):
            value = _environment(override).get(EXIT_CODE_MARKER)
            if value is not None:
                return int(value)
    value = _environment(first).get(EXIT_CODE_MARKER)
    if value is not None:
        return int(value)
    return 1 if task_definition_fails(task_definition) else KNOBS.exit_code


# ---- deployments -----------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """One ECS deployment of a service, as describe_services shows it."""

    task_definition: str
    desired: int
    fails: bool
    launch_type: str | None
    platform_version: str | None
    network_configuration: Any
    id: str = field(default_factory=_new_deployment_id)
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    reason: str = ""
    running: int = 0
    pending: int = 0
    failed: int = 0
    polls: int = 0
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        self.pending = self.desired - self.running
        self.reason = self.reason or f"ECS deployment {self.id} in progress."

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": self.pending,
            "runningCount": self.running,
            "failedTasks": self.failed,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": self.launch_type,
            "platformVersion": self.platform_version,
            "platformFamily": "Linux",
            "networkConfiguration": self.network_configuration,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.reason,
        }


@dataclass
class Rollouts:
    """A service's deployments (newest first) and the last task definition that completed."""

    deployments: list[Deployment] = field(default_factory=list)
    last_completed: Deployment | None = None

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


def rollouts(service: Any) -> Rollouts:
    state = getattr(service, "pmis_rollouts", None)
    if state is None:
        state = service.pmis_rollouts = Rollouts()
    return state


def _event(service: Any, message: str) -> None:
    service.events.insert(
        0, {"id": str(uuid.uuid4()), "createdAt": _now(), "message": f"(service {service.name}) {message}"}
    )
    del service.events[MAX_EVENTS:]


def _sync(service: Any) -> None:
    """Mirror the model into what moto serialises (deployments, counts, taskDefinition)."""
    state = rollouts(service)
    service.deployments = [d.to_dict() for d in state.deployments]
    service.running_count = sum(d.running for d in state.deployments)
    service.pending_count = sum(d.pending for d in state.deployments)
    primary = state.primary
    if primary is not None:
        service.task_definition = primary.task_definition


def start_deployment(backend: Any, service: Any, task_definition_arn: str, *, reason: str = "") -> Deployment:
    """A new PRIMARY deployment; the previous PRIMARY becomes ACTIVE (draining)."""
    state = rollouts(service)
    for old in state.deployments:
        if old.status == "PRIMARY":
            old.status = "ACTIVE"
            old.updated_at = _now()
    task_definition = backend.describe_task_definition(task_definition_arn)
    deployment = Deployment(
        task_definition=task_definition.arn,
        desired=service.desired_count,
        fails=task_definition_fails(task_definition),
        launch_type=service.launch_type,
        platform_version=service.platform_version,
        network_configuration=service.network_configuration or None,
        reason=reason,
    )
    state.deployments.insert(0, deployment)
    if (KNOBS.rollout_polls == 0 and KNOBS.rollout_seconds == 0 and not deployment.fails) or deployment.desired == 0:
        _complete(service, deployment)
    _sync(service)
    return deployment


def _complete(service: Any, deployment: Deployment) -> None:
    state = rollouts(service)
    drained = [d for d in state.deployments if d is not deployment]
    stopped = sum(d.running for d in drained)
    deployment.running, deployment.pending = deployment.desired, 0
    deployment.rollout_state = "COMPLETED"
    deployment.reason = f"ECS deployment {deployment.id} completed."
    deployment.updated_at = _now()
    state.deployments = [deployment]
    state.last_completed = deployment
    if stopped:
        _event(service, f"has stopped {stopped} running tasks.")
    _event(service, f"(deployment {deployment.id}) deployment completed.")
    _event(service, "has reached a steady state.")


def _step(backend: Any, service: Any, deployment: Deployment) -> None:
    """One poll of an IN_PROGRESS PRIMARY deployment."""
    deployment.polls += 1
    deployment.updated_at = _now()
    if deployment.fails and deployment.desired > 0:
        _failing_step(backend, service, deployment)
        return
    if deployment.running < deployment.desired:
        started = deployment.desired - deployment.running
        deployment.running, deployment.pending = deployment.desired, 0
        _event(service, f"has started {started} tasks.")
    elapsed = (_now() - deployment.created_at).total_seconds()
    if deployment.polls >= KNOBS.rollout_polls and elapsed >= KNOBS.rollout_seconds:
        _complete(service, deployment)


def failure_threshold(desired: int) -> int:
    """Failed tasks that trip the circuit breaker: the knob, else ECS's max(3, min(200, ceil(desired/2)))."""
    return KNOBS.failure_threshold or max(3, min(200, math.ceil(desired * 0.5)))


def _failing_step(backend: Any, service: Any, deployment: Deployment) -> None:
    count = deployment.desired
    task_ids = [
        _stopped_service_task(backend, service, deployment) for _ in range(min(count, MAX_STOPPED_TASKS_PER_POLL))
    ]
    shown = ", ".join(f"(task {t})" for t in task_ids)
    deployment.failed += count
    deployment.running, deployment.pending = 0, deployment.desired
    _event(service, f"has started {count} tasks: {shown}.")
    _event(service, f"has stopped {count} running tasks: {shown}. Reason: {ESSENTIAL_EXITED} (exit code 1).")
    breaker = (getattr(service, "deployment_configuration", None) or {}).get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") and deployment.failed >= failure_threshold(deployment.desired):
        _trip(backend, service, deployment, rollback=bool(breaker.get("rollback")))


def _trip(backend: Any, service: Any, deployment: Deployment, *, rollback: bool) -> None:
    """The circuit breaker: FAILED, then (rollback) a new deployment of the last completed task definition."""
    deployment.rollout_state = "FAILED"
    deployment.reason = "ECS deployment circuit breaker: tasks failed to start."
    deployment.pending = 0
    _event(service, f"(deployment {deployment.id}) deployment failed: tasks failed to start.")
    previous = rollouts(service).last_completed
    if not rollback or previous is None or previous.task_definition == deployment.task_definition:
        return
    _event(service, f"rolling back to deployment {previous.id}.")
    state = rollouts(service)
    still_running = sum(d.running for d in state.deployments if d.status == "ACTIVE" and d.rollout_state != "FAILED")
    state.deployments = [d for d in state.deployments if d is deployment]  # the old ACTIVE ones become the rollback
    new = start_deployment(
        backend,
        service,
        previous.task_definition,
        reason=f"ECS deployment circuit breaker: rolling back to deploymentId {previous.id}.",
    )
    if new.rollout_state == "IN_PROGRESS":
        new.running = min(still_running, new.desired)
        new.pending = new.desired - new.running


def _stopped_service_task(backend: Any, service: Any, deployment: Deployment) -> str:
    """A STOPPED task of the failing deployment (visible to list_tasks/describe_tasks); returns its id."""
    try:
        cluster = backend._get_cluster(service.cluster_name)
        task_definition = backend.describe_task_definition(deployment.task_definition)
        task = ecs_models.Task(
            cluster,
            task_definition,
            None,
            None,
            backend=backend,
            group=f"service:{service.name}",
            launch_type=service.launch_type or "",
            started_by=deployment.id,
            networking_configuration=service.network_configuration or None,
            platform_version=service.platform_version,
        )
    except Exception:  # no usable network configuration: report a task id only
        return uuid.uuid4().hex
    _stop_task(task, exit_code=1)
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return str(task.id)


def _stop_task(task: Any, *, exit_code: int) -> None:
    """Mark a task STOPPED because its essential container exited with `exit_code`; free its ENI."""
    now = _now()
    task.status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = ESSENTIAL_EXITED
    task.stop_code = "EssentialContainerExited"
    task.stopped_at = task.execution_stopped_at = task.stopping_at = now
    task.started_at = getattr(task, "started_at", None) or now
    for container in task.containers:
        container.last_status = "STOPPED"
        container.exitCode = exit_code
    _release_enis(task)


def _release_enis(task: Any) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[task._account_id][task.region_name]
    for attachment in task.attachments:
        details = {d["name"]: d["value"] for d in attachment.get("details", [])}
        eni_id = details.get("networkInterfaceId")
        if eni_id:
            with contextlib.suppress(Exception):  # already gone
                ec2.delete_network_interface(eni_id)
        attachment["status"] = "DELETED"


# ---- one-off tasks ---------------------------------------------------------------------------------------


class OneOffTask(ecs_models.Task):
    """A run_task task: PENDING → RUNNING → STOPPED over describe_tasks polls, then an exit code."""

    pmis_exit_code: int = 0
    pmis_polls: int = 0
    _pmis_status: str = "PENDING"

    @property
    def status(self) -> str:
        return self._pmis_status

    @status.setter
    def status(self, value: str) -> None:
        self._pmis_status = value

    def advance(self) -> None:
        with LOCK:
            if self._pmis_status == "STOPPED":
                return
            self.pmis_polls += 1
            if self.pmis_polls < max(KNOBS.task_polls, 1):
                return
            self.pmis_polls = 0
            if self._pmis_status == "PENDING":
                self._pmis_status = "RUNNING"
                self.started_at = self.pull_stopped_at = _now()
                for container in self.containers:
                    container.last_status = "RUNNING"
            else:
                _stop_task(self, exit_code=self.pmis_exit_code)


def _make_one_off(task: Any, task_definition: Any, overrides: dict[str, Any] | None) -> None:
    task.__class__ = OneOffTask
    task._pmis_status = "PENDING"
    task.pmis_polls = 0
    task.pmis_exit_code = one_off_exit_code(task_definition, overrides)
    task.created_at = task.pull_started_at = _now()
    for container in task.containers:
        container.exitCode = None
        container.last_status = "PENDING"


# ---- the patched backend methods -------------------------------------------------------------------------


def _create_service(self: Any, cluster_str: str, service_name: str, *args: Any, **kwargs: Any) -> Any:
    with LOCK:
        existing = self.services.get(f"{self._get_cluster(cluster_str).name}:{service_name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            raise InvalidParameterException("Creation of service was not idempotent.")
        service = _ORIGINAL["create_service"](self, cluster_str, service_name, *args, **kwargs)
        service.pmis_rollouts = Rollouts()
        service.events = []
        service.deployment_configuration = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
        service.health_check_grace_period_seconds = None
        service.enable_execute_command = False
        service.deployments = []
        if service.deployment_controller.get("type", "ECS") == "ECS" and service.task_definition:
            start_deployment(self, service, service.task_definition)
        else:
            _sync(service)
        return service


def _update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    with LOCK:
        props = dict(service_properties)
        service = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
        force = bool(props.pop("force_new_deployment", False))
        deployment_configuration = props.pop("deployment_configuration", None)
        wanted = props.get("task_definition")
        new_arn = self.describe_task_definition(wanted).arn if wanted else None
        _ORIGINAL["update_service"](self, props)
        if deployment_configuration:
            merged = dict(getattr(service, "deployment_configuration", None) or DEFAULT_DEPLOYMENT_CONFIGURATION)
            merged.update(deployment_configuration)
            service.deployment_configuration = merged
        state = rollouts(service)
        primary = state.primary
        if primary is None or force or (new_arn and new_arn != primary.task_definition):
            start_deployment(
                self, service, new_arn or (primary.task_definition if primary else service.task_definition)
            )
        else:
            _resize(primary, service.desired_count)
            _sync(service)
        return service


def _resize(deployment: Deployment, desired: int) -> None:
    deployment.desired = desired
    if deployment.rollout_state == "COMPLETED" or deployment.running > desired:
        deployment.running = desired
    deployment.pending = max(0, desired - deployment.running) if deployment.rollout_state == "IN_PROGRESS" else 0
    deployment.updated_at = _now()


def _describe_services(self: Any, cluster_str: str, service_names_or_arns: list[str]) -> Any:
    with LOCK:
        services, failures = _ORIGINAL["describe_services"](self, cluster_str, service_names_or_arns)
        for service in services:
            poll_service(self, service)
        return services, failures


def poll_service(backend: Any, service: Any) -> None:
    """One describe_services poll: every IN_PROGRESS PRIMARY deployment takes a step."""
    if service.status != "ACTIVE":
        return
    primary = rollouts(service).primary
    if primary is not None and primary.rollout_state == "IN_PROGRESS":
        _step(backend, service, primary)
    _sync(service)


def _run_task(
    self: Any, cluster_str: str, task_definition_str: str, count: int, overrides: Any, *args: Any, **kwargs: Any
) -> Any:
    with LOCK:
        args_list = list(args)
        network = kwargs.get("networking_configuration") or (args_list[3] if len(args_list) > 3 else None)
        vpc = (network or {}).get("awsvpcConfiguration")
        if vpc is not None:
            vpc.setdefault("securityGroups", [])  # real ECS uses the VPC's default group; moto needs the key
        tasks = _ORIGINAL["run_task"](self, cluster_str, task_definition_str, count, overrides, *args, **kwargs)
        task_definition = self.describe_task_definition(task_definition_str)
        for task in tasks:
            _make_one_off(task, task_definition, overrides)
        return tasks


def _list_tasks(
    self: Any,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
) -> Any:
    tasks = _ORIGINAL["list_tasks"](self, cluster_str, container_instance, family, started_by, None, desiredStatus)
    if service_name:
        tasks = [t for t in tasks if t.group == f"service:{service_name.split('/')[-1]}"]
    return tasks


def _task_resource_requirements(task_definition: Any) -> dict[str, Any]:
    """moto's sum of container cpu/memory/ports, with task-level-only memory (Fargate) counted as 0."""
    requirements: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
    for container in task_definition.container_definitions:
        requirements["CPU"] += container.get("cpu", container.get("Cpu", 0)) or 0
        memory = (
            container.get("memory")
            or container.get("memoryReservation")
            or container.get("Memory")
            or container.get("MemoryReservation")
        )
        requirements["MEMORY"] += memory or 0
        for mapping in container.get("portMappings", container.get("PortMappings", [])) or []:
            port = mapping.get("hostPort", mapping.get("HostPort"))
            if port is not None:
                requirements["PORTS"].append(port)
    return requirements


def _response_create_service(self: Any) -> Any:
    """moto's create_service response, plus the settings moto drops (stored on the service)."""
    result = _ORIGINAL["response_create_service"](self)
    service = self.ecs_backend._get_service(self._get_param("cluster", "default"), self._get_param("serviceName"))
    configuration = self._get_param("deploymentConfiguration")
    if configuration:
        service.deployment_configuration = {**DEFAULT_DEPLOYMENT_CONFIGURATION, **configuration}
    service.health_check_grace_period_seconds = self._get_param("healthCheckGracePeriodSeconds")
    service.enable_execute_command = bool(self._get_param("enableExecuteCommand", False))
    service.capacity_provider_strategy = self._get_param("capacityProviderStrategy")
    service.enable_ecs_managed_tags = bool(self._get_param("enableECSManagedTags", False))
    return result


# Behaviour patches: active only while the emulator serves a request (aws_control.serving).
PATCHES: dict[str, tuple[Any, str, Any]] = {
    "create_service": (Backend, "create_service", _create_service),
    "update_service": (Backend, "update_service", _update_service),
    "describe_services": (Backend, "describe_services", _describe_services),
    "run_task": (Backend, "run_task", _run_task),
    "list_tasks": (Backend, "list_tasks", _list_tasks),
    "response_create_service": (ecs_responses.EC2ContainerServiceResponse, "create_service", _response_create_service),
}
# Crash fixes: always on (they only turn moto's errors into what AWS does).
FIXES: dict[str, tuple[Any, str, Any]] = {
    "resources": (Backend, "_calculate_task_resource_requirements", staticmethod(_task_resource_requirements)),
}


def _scoped(key: str, replacement: Any) -> Any:
    """`replacement` while serving the emulator, moto's original otherwise."""

    @functools.wraps(replacement)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        return (replacement if serving() else _ORIGINAL[key])(*args, **kwargs)

    return dispatch


def install() -> None:
    """Patch moto's ECS backend and responses in this process (idempotent)."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    with LOCK:
        if _ORIGINAL:
            return
        # moto sets an ENI's private_dns_name only in VPCs with DNS hostnames; run_task reads it anyway.
        if not hasattr(NetworkInterface, "private_dns_name"):
            NetworkInterface.private_dns_name = None  # type: ignore[assignment]
        for key, (owner, name, replacement) in {**PATCHES, **FIXES}.items():
            _ORIGINAL[key] = owner.__dict__[name]
            setattr(owner, name, _scoped(key, replacement) if key in PATCHES else replacement)


def uninstall() -> None:
    """Restore moto's own ECS behaviour (for tests of the patching itself)."""
    with LOCK:
        for key, (owner, name, _) in {**PATCHES, **FIXES}.items():
            if key in _ORIGINAL:
                setattr(owner, name, _ORIGINAL.pop(key))


def resource_counts() -> dict[str, int]:
    """Counts of ECS resources across accounts and regions (cheap: no backend is created)."""
    counts = {"ecs_clusters": 0, "ecs_services": 0, "ecs_task_definitions": 0, "ecs_tasks": 0}
    for account in dict.values(ecs_models.ecs_backends):
        for backend in dict.values(account):
            counts["ecs_clusters"] += len(backend.clusters)
            counts["ecs_services"] += sum(1 for s in backend.services.values() if s.status == "ACTIVE")
            counts["ecs_task_definitions"] += sum(len(revs) for revs in backend.task_definitions.values())
            counts["ecs_tasks"] += sum(len(tasks) for tasks in backend.tasks.values())
    return counts
