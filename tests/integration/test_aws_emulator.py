"""The embedded AWS's extended ECS, driven with boto3 over HTTP: rollouts, failures, one-off tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

BREAKER = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
FAIL = [{"name": "PMIS_EMULATOR_FAIL", "value": "1"}]


@dataclass
class Cluster:
    """An ECS cluster in a VPC, with helpers to register task definitions and read services."""

    ecs: Any
    network: dict[str, Any]
    name: str = "pmis-local"

    def task_definition(self, image: str = "repo/api:1", environment: list[dict[str, str]] | None = None) -> str:
        """A runbook-correct Fargate task definition: cpu/memory at task level only."""
        return str(
            self.ecs.register_task_definition(
                family=f"{self.name}-api",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                containerDefinitions=[
                    {"name": "api", "image": image, "essential": True, "environment": environment or []}
                ],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    def create_service(self, task_definition: str, **extra: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "cluster": self.name,
            "serviceName": "api",
            "taskDefinition": task_definition,
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": self.network,
            "deploymentConfiguration": BREAKER,
            **extra,
        }
        return dict(self.ecs.create_service(**kwargs)["service"])

    def poll(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=self.name, services=["api"])["services"][0])

    def poll_until(self, done: Callable[[dict[str, Any]], bool], limit: int = 10) -> dict[str, Any]:
        for _ in range(limit):
            service = self.poll()
            if done(service):
                return service
        raise AssertionError(f"not reached in {limit} polls: {service['deployments']}")


@pytest.fixture(scope="module")
def network(aws_server: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Client settings and an awsvpc network, made once per module (the default VPC takes seconds)."""
    from pmis_deploy.emulators.aws import reset

    reset(aws_server)
    client_kwargs: dict[str, Any] = {
        "endpoint_url": aws_server,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    ec2 = boto3.client("ec2", **client_kwargs)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    group = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    return client_kwargs, {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}


@pytest.fixture
def knobs(aws_server: str) -> Iterator[Callable[..., Any]]:
    """Set emulator knobs for one test; they are reset afterwards."""
    from pmis_deploy.emulators import aws

    yield lambda **values: aws.set_knobs(aws_server, **values)
    aws._call(aws_server, "DELETE", "/pmis-emulator/knobs", None)


@pytest.fixture
def cluster(network: tuple[dict[str, Any], dict[str, Any]], request: pytest.FixtureRequest) -> Cluster:
    """A fresh cluster per test (services are per cluster, so tests share the server's VPC)."""
    client_kwargs, awsvpc = network
    ecs = boto3.client("ecs", **client_kwargs)
    name = "c-" + request.node.name.removeprefix("test_")[:60]
    ecs.create_cluster(clusterName=name)
    return Cluster(ecs, awsvpc, name)


def _completed(service: dict[str, Any]) -> bool:
    return len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] == "COMPLETED"


def test_first_deployment_completes_with_running_tasks(cluster: Cluster) -> None:
    created = cluster.create_service(cluster.task_definition())
    assert created["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert created["runningCount"] == 0

    service = cluster.poll_until(_completed, limit=2)  # rollout_polls defaults to 2
    assert service["runningCount"] == service["desiredCount"] == 2
    assert service["deployments"][0]["runningCount"] == 2
    assert any("steady state" in e["message"] for e in service["events"])


def test_update_service_rolls_a_new_primary_deployment(cluster: Cluster) -> None:
    first = cluster.task_definition()
    cluster.create_service(first)
    old = cluster.poll_until(_completed)["deployments"][0]
    second = cluster.task_definition(image="repo/api:2")

    updated = cluster.ecs.update_service(
        cluster=cluster.name, service="api", taskDefinition=second.split("/")[-1]
    )  # "family:revision"
    service = updated["service"]
    assert service["taskDefinition"] == second  # the full ARN, as real ECS returns it
    primary, active = service["deployments"]
    assert (primary["status"], primary["rolloutState"], primary["taskDefinition"]) == ("PRIMARY", "IN_PROGRESS", second)
    assert primary["id"] != old["id"]
    assert (active["status"], active["id"], active["taskDefinition"]) == ("ACTIVE", old["id"], first)

    service = cluster.poll_until(_completed)
    assert service["deployments"][0]["id"] == primary["id"]
    assert service["deployments"][0]["taskDefinition"] == second
    assert service["runningCount"] == 2


def test_force_new_deployment_starts_a_deployment_of_the_same_task_definition(cluster: Cluster) -> None:
    arn = cluster.task_definition()
    cluster.create_service(arn)
    old_id = cluster.poll_until(_completed)["deployments"][0]["id"]
    service = cluster.ecs.update_service(cluster=cluster.name, service="api", forceNewDeployment=True)["service"]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert service["deployments"][0]["id"] != old_id and service["deployments"][0]["taskDefinition"] == arn


def test_scaling_changes_counts_without_a_new_deployment(cluster: Cluster) -> None:
    cluster.create_service(cluster.task_definition())
    deployment_id = cluster.poll_until(_completed)["deployments"][0]["id"]
    service = cluster.ecs.update_service(cluster=cluster.name, service="api", desiredCount=3)["service"]
    assert [d["id"] for d in service["deployments"]] == [deployment_id]
    assert (service["desiredCount"], service["runningCount"]) == (3, 3)


def test_services_stable_waiter_works(cluster: Cluster) -> None:
    cluster.create_service(cluster.task_definition())
    cluster.ecs.update_service(cluster=cluster.name, service="api", taskDefinition=cluster.task_definition("r:2"))
    cluster.ecs.get_waiter("services_stable").wait(
        cluster=cluster.name, services=["api"], WaiterConfig={"Delay": 0.01, "MaxAttempts": 5}
    )
    assert _completed(cluster.poll())


def test_list_tasks_by_service_excludes_other_tasks(cluster: Cluster) -> None:
    cluster.create_service(cluster.task_definition(environment=FAIL))
    cluster.poll()
    one_off = _run(cluster, cluster.task_definition())
    by_service = cluster.ecs.list_tasks(cluster=cluster.name, serviceName="api")["taskArns"]
    assert by_service and one_off not in by_service
    assert one_off in cluster.ecs.list_tasks(cluster=cluster.name)["taskArns"]


def test_rollout_speed_is_a_knob(cluster: Cluster, knobs: Callable[..., Any]) -> None:
    knobs(rollout_polls=0)
    created = cluster.create_service(cluster.task_definition())
    assert created["deployments"][0]["rolloutState"] == "COMPLETED"
    knobs(rollout_polls=4)
    cluster.ecs.update_service(cluster=cluster.name, service="api", taskDefinition=cluster.task_definition("r:2"))
    states = [cluster.poll()["deployments"][0]["rolloutState"] for _ in range(4)]
    assert states == ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]


def test_failing_rollout_trips_the_circuit_breaker_and_rolls_back(cluster: Cluster) -> None:
    good = cluster.task_definition()
    cluster.create_service(good)
    cluster.poll_until(_completed)
    bad = cluster.task_definition(image="repo/api:2", environment=FAIL)
    cluster.ecs.update_service(cluster=cluster.name, service="api", taskDefinition=bad)

    service = cluster.poll_until(lambda s: any(d["rolloutState"] == "FAILED" for d in s["deployments"]))
    failed = next(d for d in service["deployments"] if d["rolloutState"] == "FAILED")
    rollback = service["deployments"][0]
    assert failed["taskDefinition"] == bad and failed["status"] == "ACTIVE"
    assert failed["failedTasks"] >= 3
    assert failed["rolloutStateReason"].startswith("ECS deployment circuit breaker:")
    assert (rollback["status"], rollback["taskDefinition"]) == ("PRIMARY", good)
    assert "rolling back" in rollback["rolloutStateReason"]
    messages = [e["message"] for e in service["events"]]
    assert any("has started 2 tasks" in m for m in messages)
    assert any("Essential container in task exited" in m for m in messages)
    assert any("deployment failed" in m for m in messages)

    service = cluster.poll_until(_completed)
    assert service["taskDefinition"] == good
    assert service["deployments"][0]["taskDefinition"] == good
    assert service["runningCount"] == 2

    stopped = cluster.ecs.list_tasks(cluster=cluster.name, serviceName="api", desiredStatus="STOPPED")["taskArns"]
    assert stopped
    task = cluster.ecs.describe_tasks(cluster=cluster.name, tasks=stopped[:1])["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["containers"][0]["exitCode"] == 1
    assert task["taskDefinitionArn"] == bad


def test_failing_rollout_without_rollback_stays_failed(cluster: Cluster, knobs: Callable[..., Any]) -> None:
    knobs(fail_images=[":broken"], failure_threshold=1)
    good = cluster.task_definition()
    breaker_only = {**BREAKER, "deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    cluster.create_service(good, deploymentConfiguration=breaker_only)
    cluster.poll_until(_completed)
    bad = cluster.task_definition(image="repo/api:broken")
    cluster.ecs.update_service(cluster=cluster.name, service="api", taskDefinition=bad)
    service = cluster.poll()
    primary, active = service["deployments"]
    assert (primary["taskDefinition"], primary["rolloutState"]) == (bad, "FAILED")
    assert (active["taskDefinition"], active["runningCount"]) == (good, 2)
    assert cluster.poll()["deployments"][0]["rolloutState"] == "FAILED"  # it stays so


def test_rollout_seconds_knob(cluster: Cluster, knobs: Callable[..., Any]) -> None:
    import time

    knobs(rollout_polls=1, rollout_seconds=0.3)
    cluster.create_service(cluster.task_definition())
    assert cluster.poll()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    time.sleep(0.35)
    assert _completed(cluster.poll())


def test_failing_first_deployment_has_nothing_to_roll_back_to(cluster: Cluster) -> None:
    cluster.create_service(cluster.task_definition(environment=FAIL))
    service = cluster.poll_until(lambda s: s["deployments"][0]["rolloutState"] == "FAILED")
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["runningCount"] == 0


def test_failing_rollout_without_breaker_keeps_failing(cluster: Cluster) -> None:
    no_breaker = {**BREAKER, "deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    cluster.create_service(cluster.task_definition(environment=FAIL), deploymentConfiguration=no_breaker)
    failed = [cluster.poll()["deployments"][0] for _ in range(4)]
    assert [d["rolloutState"] for d in failed] == ["IN_PROGRESS"] * 4
    assert [d["failedTasks"] for d in failed] == [2, 4, 6, 8]


def test_service_settings_moto_drops_are_stored(cluster: Cluster) -> None:
    created = cluster.create_service(
        cluster.task_definition(), healthCheckGracePeriodSeconds=60, enableExecuteCommand=True
    )
    described = cluster.poll()
    for service in (created, described):
        assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert service["deploymentConfiguration"]["maximumPercent"] == 200
        assert service["healthCheckGracePeriodSeconds"] == 60
        assert service["enableExecuteCommand"] is True
    cluster.ecs.update_service(
        cluster=cluster.name,
        service="api",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
        healthCheckGracePeriodSeconds=90,
    )
    updated = cluster.poll()
    assert updated["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}
    assert updated["deploymentConfiguration"]["minimumHealthyPercent"] == 100  # merged, not replaced
    assert updated["healthCheckGracePeriodSeconds"] == 90


def test_duplicate_create_service_is_refused(cluster: Cluster) -> None:
    arn = cluster.task_definition()
    cluster.create_service(arn)
    with pytest.raises(ClientError) as caught:
        cluster.create_service(arn)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "Creation of service was not idempotent" in str(caught.value)


def test_create_service_after_delete_is_allowed(cluster: Cluster) -> None:
    arn = cluster.task_definition()
    cluster.create_service(arn)
    cluster.ecs.delete_service(cluster=cluster.name, service="api", force=True)
    assert cluster.create_service(arn)["status"] == "ACTIVE"


def _run(cluster: Cluster, arn: str, environment: list[dict[str, str]] | None = None) -> str:
    container: dict[str, Any] = {"name": "api", "command": ["alembic", "upgrade", "head"]}
    if environment:
        container["environment"] = environment
    overrides = {"containerOverrides": [container]}
    response = cluster.ecs.run_task(
        cluster=cluster.name,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration=cluster.network,
        overrides=overrides,
        startedBy="pmis-deploy",
    )
    assert response["failures"] == []
    return str(response["tasks"][0]["taskArn"])


def _states(cluster: Cluster, task_arn: str, polls: int = 3) -> list[dict[str, Any]]:
    return [cluster.ecs.describe_tasks(cluster=cluster.name, tasks=[task_arn])["tasks"][0] for _ in range(polls)]


def test_one_off_task_with_task_level_memory_runs_and_exits_0(cluster: Cluster) -> None:
    task_arn = _run(cluster, cluster.task_definition())  # moto alone answers HTTP 500 here
    states = _states(cluster, task_arn)
    assert [t["lastStatus"] for t in states] == ["RUNNING", "STOPPED", "STOPPED"]
    stopped = states[-1]
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["containers"][0]["exitCode"] == 0
    assert stopped["desiredStatus"] == "STOPPED"
    cluster.ecs.get_waiter("tasks_stopped").wait(cluster=cluster.name, tasks=[task_arn])


def test_one_off_task_exit_code_from_overrides(cluster: Cluster) -> None:
    task_arn = _run(cluster, cluster.task_definition(), [{"name": "PMIS_EMULATOR_EXIT_CODE", "value": "3"}])
    assert _states(cluster, task_arn)[-1]["containers"][0]["exitCode"] == 3


def test_one_off_task_exit_code_from_knob_and_fail_marker(cluster: Cluster, knobs: Callable[..., Any]) -> None:
    assert (
        _states(cluster, _run(cluster, cluster.task_definition(environment=FAIL)))[-1]["containers"][0]["exitCode"] == 1
    )
    knobs(exit_code=2)
    assert _states(cluster, _run(cluster, cluster.task_definition()))[-1]["containers"][0]["exitCode"] == 2


def test_run_task_without_security_groups_works(cluster: Cluster) -> None:
    subnets = cluster.network["awsvpcConfiguration"]["subnets"]
    response = cluster.ecs.run_task(
        cluster=cluster.name,
        taskDefinition=cluster.task_definition(),
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )
    assert response["tasks"][0]["lastStatus"] == "PENDING"


def test_run_task_in_a_vpc_without_dns_hostnames(cluster: Cluster, network: tuple[dict[str, Any], Any]) -> None:
    ec2 = boto3.client("ec2", **network[0])
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]  # DNS hostnames off, as by default
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    response = cluster.ecs.run_task(
        cluster=cluster.name,
        taskDefinition=cluster.task_definition(),
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
    )
    assert response["failures"] == []
    assert _states(cluster, response["tasks"][0]["taskArn"])[-1]["lastStatus"] == "STOPPED"


def test_control_api_reports_resources(cluster: Cluster, aws_server: str) -> None:
    import json
    import urllib.request

    cluster.create_service(cluster.task_definition())
    with urllib.request.urlopen(aws_server + "/pmis-emulator/") as response:  # noqa: S310
        info = json.loads(response.read())
    assert info["emulator"] == "pmis-aws"
    assert info["resources"]["ecs_services"] >= 1
    assert info["resources"]["ecs_clusters"] >= 1
