"""Roll-out and migration against the embedded AWS emulator (moto server + rolling ECS) over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from pmis_deploy.aws import migrate, rollout, taskdefs
from pmis_deploy.aws.infra import AwsInfra
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.config import Settings, load_settings

pytestmark = pytest.mark.integration

GOOD = "sha256:" + "1" * 64
BAD = "sha256:" + "0bad" * 16


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings("staging", environ={}).settings


@pytest.fixture
def infra(aws_endpoint: str) -> AwsInfra:
    """Just enough real network, secrets and cluster in the emulator for services and one-off tasks."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # moto's run_task needs DNS hostnames on the VPC (AttributeError private_dns_name otherwise)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    )
    sgs = {
        role: ec2.create_security_group(GroupName=f"t-{role}", Description=role, VpcId=vpc)["GroupId"]
        for role in ("api", "web", "worker")
    }
    sm = boto3.client("secretsmanager")
    secrets = {
        n: sm.create_secret(Name=f"pmis-staging/{n}", SecretString="canary-value-x")["ARN"]
        for n in ("database-url", "redis-url", "celery-broker")
    }
    # like the RDS-managed master secret, which the migrate task reads by JSON key
    login = '{"username": "pmis_admin", "password": "canary-m"}'  # pragma: allowlist secret
    master = sm.create_secret(Name="rds!db-test", SecretString=login)
    cluster = boto3.client("ecs").create_cluster(clusterName="pmis-staging")["cluster"]["clusterArn"]
    repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pmis-staging"
    return AwsInfra(
        environment="staging",
        region="us-east-1",
        account_id="123456789012",
        vpc_id=vpc,
        private_subnet_ids=subnets,
        public_subnet_ids=subnets,
        security_groups=sgs,
        cluster_name="pmis-staging",
        cluster_arn=cluster,
        log_group="/ecs/pmis-staging",
        execution_role_arn="arn:aws:iam::123456789012:role/pmis-staging-task-execution",
        task_role_arn="arn:aws:iam::123456789012:role/pmis-staging-task",
        repositories={s: f"{repo}/{s}" for s in ("api", "worker", "web")},
        secrets=secrets,
        target_group_arns={
            "api": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/pmis-staging-api/1",
            "web": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/pmis-staging-web/2",
        },
        load_balancer_dns="alb.example",
        load_balancer_arn="arn:alb",
        state_bucket="b",
        extra={"db_master_secret_arn": master["ARN"]},
    )


def register(settings: Settings, infra: AwsInfra, digest: str) -> dict[str, str]:
    ecs = boto3.client("ecs")
    refs = {s: f"{infra.repositories[s]}@{digest}" for s in ("api", "worker", "web")}
    return {
        w: str(taskdefs.register_if_changed(ecs, r)[0]) for w, r in taskdefs.build_all(settings, infra, refs).items()
    }


def roll(settings: Settings, infra: AwsInfra, arns: dict[str, str], lines: list[str]) -> list[rollout.ServiceAction]:
    ecs = boto3.client("ecs")
    actions = rollout.plan_services(ecs, settings, infra, {w: a for w, a in arns.items() if w in taskdefs.SERVICES})
    started = rollout.apply(ecs, actions)
    rollout.wait(ecs, infra.cluster_name, started, timeout=30, poll=0.05, show=lines.append)
    return actions


def test_create_then_converged_then_update_waits_for_completed(settings: Settings, infra: AwsInfra) -> None:
    lines: list[str] = []
    arns = register(settings, infra, GOOD)
    actions = roll(settings, infra, arns, lines)
    assert [a.action for a in actions] == ["create"] * 4
    assert [a.workload for a in actions] == ["worker", "beat", "api", "web"]
    assert sum("COMPLETED" in line for line in lines) == 4

    ecs = boto3.client("ecs")
    svc = ecs.describe_services(cluster="pmis-staging", services=["pmis-staging-api"])["services"][0]
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [infra.security_groups["api"]]
    beat = ecs.describe_services(cluster="pmis-staging", services=["pmis-staging-beat"])["services"][0]
    assert beat["desiredCount"] == 1 and beat["deploymentConfiguration"]["maximumPercent"] == 100

    again = rollout.plan_services(ecs, settings, infra, {w: arns[w] for w in taskdefs.SERVICES})
    assert [a.action for a in again] == ["none"] * 4  # converged: describe first, nothing to create
    with pytest.raises(Exception, match="not idempotent"):  # what real ECS says to a duplicate create
        ecs.create_service(**again[0].request)

    changed = dict(arns, api=arns["api"])
    new_digest = "sha256:" + "2" * 64
    changed.update({k: v for k, v in register(settings, infra, new_digest).items() if k == "api"})
    lines.clear()
    actions = roll(settings, infra, changed, lines)
    assert [a.action for a in actions] == ["none", "none", "update", "none"]
    assert any("pmis-staging-api: deployment" in line and "COMPLETED" in line for line in lines)
    svc = ecs.describe_services(cluster="pmis-staging", services=["pmis-staging-api"])["services"][0]
    assert rollout.short(svc["taskDefinition"]) == "pmis-staging-api:2"


def test_circuit_breaker_rollback_is_a_failure(
    settings: Settings, infra: AwsInfra, aws_knobs: Callable[..., dict[str, Any]]
) -> None:
    good = register(settings, infra, GOOD)
    roll(settings, infra, good, [])
    aws_knobs(fail_images=["0bad0bad"])
    bad = register(settings, infra, BAD)
    lines: list[str] = []
    with pytest.raises(rollout.RolloutFailed, match=r"FAILED|replaced") as err:
        roll(settings, infra, {"api": bad["api"]}, lines)
    assert "pmis-staging-api" in err.value.message
    assert any("stopped" in line for line in lines)  # stopped-task reasons were shown while waiting
    svc = boto3.client("ecs").describe_services(cluster="pmis-staging", services=["pmis-staging-api"])["services"][0]
    assert rollout.short(svc["taskDefinition"]) == rollout.short(good["api"])  # ECS put the old one back


def test_migration_task_exit_code_decides(
    settings: Settings, infra: AwsInfra, aws_knobs: Callable[..., dict[str, Any]]
) -> None:
    arns = register(settings, infra, GOOD)
    aws = AwsClients(region="us-east-1")
    result = migrate.run_migration(aws, infra, arns["migrate"], started_by="pmis-deploy/test", poll=0.05, timeout=30)
    assert result.exit_code == 0
    aws_knobs(exit_code=3)
    with pytest.raises(migrate.MigrationFailed, match="exited 3") as err:
        migrate.run_migration(aws, infra, arns["migrate"], started_by="pmis-deploy/test", poll=0.05, timeout=30)
    assert "no service was changed" in (err.value.hint or "")


def test_run_task_request_uses_private_subnets_without_public_ip(infra: AwsInfra) -> None:
    req = migrate.run_task_request(replace(infra), "arn:td", started_by="x" * 200)
    vpc = req["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc == {
        "subnets": list(infra.private_subnet_ids),
        "securityGroups": [infra.security_groups["worker"]],
        "assignPublicIp": "DISABLED",
    }
    assert len(req["startedBy"]) == 128 and req["launchType"] == "FARGATE"


def test_status_of_an_environment_never_deployed(aws_endpoint: str, settings: Settings) -> None:
    from pmis_deploy.aws.status import collect

    data = collect(AwsClients(region="us-east-1"), settings)
    assert {s["status"] for s in data["services"]} == {"MISSING"}
    assert data["releases"] == [] and data["current_release"] is None and data["lock"] is None
