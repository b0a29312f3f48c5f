"""Dry-run provisioning makes no mutating AWS call — enforced by the boto3 layer — and the task's exit
codes say whether changes are planned (2) or not (0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pmis_deploy.aws.plan import apply
from pmis_deploy.aws.provision import provision, read_infra
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.config import Settings, load_settings
from pmis_deploy.errors import DeployError, DryRunViolation, NotFound

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def local_settings(endpoint: str) -> Settings:
    settings = load_settings("local", environ={}).settings
    settings.aws.endpoint_url = endpoint
    settings.aws.waiter_delay_seconds = 1
    return settings


def our_security_groups(aws: AwsClients) -> list[str]:
    groups = aws.client("ec2").describe_security_groups()["SecurityGroups"]
    return [g["GroupName"] for g in groups if g["GroupName"].startswith("pmis-")]


def test_dry_run_plans_everything_and_mutates_nothing(aws_endpoint: str) -> None:
    settings = local_settings(aws_endpoint)
    aws = AwsClients.for_settings(settings, dry_run=True)
    result = provision(aws, settings, dry_run=True)
    assert result.infra is None and result.dry_run
    resources = {c.resource for c in result.changes}
    for expected in (
        "security group pmis-local-rds-sg",
        "RDS instance pmis-local-postgres",
        "replication group pmis-local-redis",
        "ECR repository pmis-local/api",
        "ECS cluster pmis-local",
        "load balancer pmis-local-alb",
        "IAM role pmis-local-task-execution",
        "secret pmis-local/database-url",
        "S3 bucket pmis-local-deploy-state-123456789012",
        "dashboard pmis-local",
    ):
        assert expected in resources
    assert aws.mutating_calls() == {}
    assert sum(aws.calls.values()) > 20  # it did read
    with pytest.raises(NotFound, match="not fully provisioned"):
        read_infra(aws, settings)

    # Were the planner to apply while planning, the boto3 layer refuses before sending anything.
    with pytest.raises(DryRunViolation, match="refused the mutating AWS call ec2:CreateSubnet"):
        apply(result.changes)
    assert aws.mutating_calls() == {"ec2:CreateSubnet": 1}  # counted, refused, never sent
    live = AwsClients.for_settings(settings)
    assert our_security_groups(live) == []
    private = live.client("ec2").describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["pmis-local-private-*"]}])
    assert private["Subnets"] == []


def test_a_runbook_made_database_is_converged(aws_endpoint: str) -> None:
    """An instance created the runbook's way (inline password, no subnet group, public by default) is
    adopted: moved into our subnet group, made private, its password handed to RDS-managed secrets."""
    settings = local_settings(aws_endpoint)
    aws = AwsClients.for_settings(settings)
    rds = aws.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="pmis-local-postgres",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        EngineVersion="15",
        MasterUsername="postgres",
        MasterUserPassword="lost-forever-1",
        AllocatedStorage=20,
        StorageEncrypted=True,
    )
    result = provision(aws, settings)
    update = next(c for c in result.changes if c.resource == "RDS instance pmis-local-postgres")
    assert update.action == "update"
    for key in ("ManageMasterUserPassword=True", "PubliclyAccessible=False", "DBSubnetGroupName=pmis-local-db-subnets"):
        assert key in update.detail
    db = rds.describe_db_instances(DBInstanceIdentifier="pmis-local-postgres")["DBInstances"][0]
    assert db["MasterUserSecret"]["SecretArn"] and db["PubliclyAccessible"] is False
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "pmis-local-db-subnets"
    sm = aws.client("secretsmanager")
    master = json.loads(sm.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])
    url = make_url(sm.get_secret_value(SecretId="pmis-local/database-url")["SecretString"])
    assert url.username == "pmis_app" and url.password not in (master["password"], "lost-forever-1")
    assert master["username"] != "pmis_app"  # the master, which the migration task creates pmis_app with


def test_production_shows_the_plan_and_refuses_without_confirmation(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pmis_deploy.aws.provision import converge
    from pmis_deploy.errors import ConfirmationRefused

    settings = load_settings("production", environ={}).settings
    settings.aws.endpoint_url = aws_endpoint
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ConfirmationRefused, match="without --yes"):
        converge(settings)
    assert "change(s) planned" in capsys.readouterr().out  # the plan was shown first
    assert our_security_groups(AwsClients.for_settings(settings)) == []  # and nothing was changed


def test_dry_run_needs_dry_run_clients(aws_endpoint: str) -> None:
    settings = local_settings(aws_endpoint)
    with pytest.raises(DeployError, match="with AwsClients"):
        provision(AwsClients.for_settings(settings), settings, dry_run=True)


def test_cli_exit_code_2_when_changes_are_planned(aws_endpoint: str) -> None:
    env = {**os.environ, "PMIS_AWS__ENDPOINT_URL": aws_endpoint, "COLUMNS": "200"}
    env.pop("AZURE_OPENAI_API_KEY", None)
    command = [str(Path(sys.executable).parent / "inv"), "provision.aws", "--dry-run"]
    planned = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert planned.returncode == 2, planned.stderr
    assert "change(s) planned" in planned.stdout and "RDS instance pmis-local-postgres" in planned.stdout
