"""`provision` against the embedded AWS (moto server over HTTP): one provisioned environment per module,
then convergence checks on it — second run, drift, secrets, autoscaling, read_infra."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from pydantic import SecretStr

from pmis_deploy.aws import naming, rules
from pmis_deploy.aws.provision import ProvisionResult, provision, read_infra
from pmis_deploy.aws.scaling import ensure_autoscaling
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.config import Settings, load_settings

pytestmark = pytest.mark.integration


@dataclass
class Provisioned:
    settings: Settings
    result: ProvisionResult
    aws: AwsClients
    seconds: float
    first_run_mutating_calls: dict[str, int]

    dry: AwsClients | None = None

    def clients(self, *, dry_run: bool = False) -> AwsClients:
        """The module's clients with their call counters cleared (making boto3 clients costs ~0.2 s each)."""
        if dry_run:
            self.dry = self.dry or AwsClients.for_settings(self.settings, dry_run=True)
            self.dry.calls.clear()
            return self.dry
        self.aws.calls.clear()
        return self.aws


def local_settings(endpoint: str) -> Settings:
    settings = load_settings("local", environ={}).settings
    settings.aws.endpoint_url = endpoint
    settings.aws.waiter_delay_seconds = 1
    settings.secrets.azure_openai_api_key = None
    return settings


@pytest.fixture(scope="module")
def env(aws_server: str) -> Iterator[Provisioned]:
    from pmis_deploy.emulators.aws import reset

    reset(aws_server)
    settings = local_settings(aws_server)
    aws = AwsClients.for_settings(settings)
    started = time.monotonic()
    result = provision(aws, settings)
    yield Provisioned(settings, result, aws, time.monotonic() - started, aws.mutating_calls())
    reset(aws_server)


def test_first_run_creates_everything(env: Provisioned) -> None:
    infra = env.result.infra
    assert infra is not None and env.result.changed
    assert env.first_run_mutating_calls
    assert infra.cluster_name == "pmis-local" and infra.log_group == "/ecs/pmis-local"
    assert set(infra.repositories) == {"api", "worker", "web"}
    assert set(infra.secrets) == {"database-url", "redis-url", "celery-broker", "azure-openai-key"}
    assert all(arn.startswith("arn:aws:secretsmanager:") for arn in infra.secrets.values())
    assert set(infra.security_groups) == {"alb", "api", "web", "worker", "rds", "redis"}
    assert infra.state_bucket == "pmis-local-deploy-state-123456789012"
    assert len(infra.private_subnet_ids) == 2 and len(infra.public_subnet_ids) >= 2
    assert any("deferred until the api service exists" in n for n in env.result.notes)
    assert any("inv secrets.set azure-openai-key" in n for n in env.result.notes)


def test_network_is_private_and_chained_by_reference(env: Provisioned) -> None:
    infra = env.result.infra
    assert infra is not None
    ec2 = env.clients().client("ec2")
    private = ec2.describe_subnets(SubnetIds=list(infra.private_subnet_ids))["Subnets"]
    assert len({s["AvailabilityZone"] for s in private}) == 2
    assert not any(s["MapPublicIpOnLaunch"] for s in private)
    assert all(s["VpcId"] == infra.vpc_id for s in private)
    sg = infra.security_groups
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(GroupIds=list(sg.values()))["SecurityGroups"]}

    def sources(role: str) -> set[tuple[int, str]]:
        out = set()
        for perm in groups[sg[role]]["IpPermissions"]:
            out |= {(perm["FromPort"], p["GroupId"]) for p in perm.get("UserIdGroupPairs", [])}
            out |= {(perm["FromPort"], r["CidrIp"]) for r in perm.get("IpRanges", [])}
        return out

    assert sources("alb") == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}
    assert sources("api") == {(8000, sg["alb"])}
    assert sources("web") == {(3000, sg["alb"])}
    assert sources("worker") == set()
    assert sources("rds") == {(5432, sg["api"]), (5432, sg["worker"])}
    assert sources("redis") == {(6379, sg["api"]), (6379, sg["worker"])}
    tables = ec2.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["pmis-local-private"]}])["RouteTables"]
    assert {a["SubnetId"] for a in tables[0]["Associations"]} == set(infra.private_subnet_ids)
    assert any(r.get("NatGatewayId") for r in tables[0]["Routes"])


def test_database_is_private_encrypted_and_rds_managed(env: Provisioned) -> None:
    db = env.clients().client("rds").describe_db_instances(DBInstanceIdentifier="pmis-local-postgres")["DBInstances"][0]
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "pmis-local-db-subnets"
    assert {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]} == set(env.result.infra.private_subnet_ids)  # type: ignore[union-attr]
    assert db["StorageType"] == "gp3" and db["BackupRetentionPeriod"] == 30
    assert db["MasterUserSecret"]["SecretArn"]
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("15")


def test_cache_is_encrypted_in_a_subnet_group(env: Provisioned) -> None:
    ec = env.clients().client("elasticache")
    group = ec.describe_replication_groups(ReplicationGroupId="pmis-local-redis")["ReplicationGroups"][0]
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"] and group["AuthTokenEnabled"]
    assert group["AutomaticFailover"] == "enabled"
    # NumCacheClusters=2 is checked on the request (unit tests): moto lists one member cluster.
    assert ec.describe_cache_subnet_groups(CacheSubnetGroupName="pmis-local-cache-subnets")["CacheSubnetGroups"]


def test_app_secrets_hold_the_real_credentials(env: Provisioned) -> None:
    from sqlalchemy.engine import make_url

    aws = env.clients()
    sm, rds, ec = aws.client("secretsmanager"), aws.client("rds"), aws.client("elasticache")
    db = rds.describe_db_instances(DBInstanceIdentifier="pmis-local-postgres")["DBInstances"][0]
    master = json.loads(sm.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])
    url = make_url(sm.get_secret_value(SecretId="pmis-local/database-url")["SecretString"])
    assert url.drivername == "postgresql+psycopg"
    assert url.username == env.settings.aws.database.app_user == "pmis_app"  # never the master
    assert url.username != master["username"] and url.password != master["password"]
    assert url.password and re.fullmatch(r"[0-9a-f]{48}", url.password)  # generated by us, URL-safe
    assert (url.host, url.port, url.database) == (db["Endpoint"]["Address"], db["Endpoint"]["Port"], "pmis")
    token = sm.get_secret_value(SecretId="pmis-local/redis-auth-token")["SecretString"]
    rules.check_auth_token(token)
    primary = ec.describe_replication_groups(ReplicationGroupId="pmis-local-redis")["ReplicationGroups"][0][
        "NodeGroups"
    ][0]["PrimaryEndpoint"]
    for name in ("pmis-local/redis-url", "pmis-local/celery-broker"):
        redis = urlsplit(sm.get_secret_value(SecretId=name)["SecretString"])
        assert redis.scheme == "rediss"
        assert unquote(redis.password or "") == token
        assert (redis.hostname, redis.port) == (primary["Address"], primary["Port"])


def test_registry_cluster_logs_bucket_and_load_balancer(env: Provisioned) -> None:
    aws = env.clients()
    repos = aws.client("ecr").describe_repositories(repositoryNames=["pmis-local/api"])["repositories"]
    assert repos[0]["imageTagMutability"] == "IMMUTABLE" and repos[0]["imageScanningConfiguration"]["scanOnPush"]
    policy = json.loads(aws.client("ecr").get_lifecycle_policy(repositoryName="pmis-local/web")["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == env.settings.aws.ecr_keep_images
    cluster = aws.client("ecs").describe_clusters(clusters=["pmis-local"], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/pmis-local")["logGroups"]
    assert groups[0]["retentionInDays"] == env.settings.aws.log_retention_days
    s3, bucket = aws.client("s3"), "pmis-local-deploy-state-123456789012"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    elbv2 = aws.client("elbv2")
    alb = elbv2.describe_load_balancers(Names=["pmis-local-alb"])["LoadBalancers"][0]
    assert len({z["ZoneName"] for z in alb["AvailabilityZones"]}) >= 2
    tgs = elbv2.describe_target_groups(Names=["pmis-local-api", "pmis-local-web"])["TargetGroups"]
    assert {(t["TargetType"], t["Port"]) for t in tgs} == {("ip", 8000), ("ip", 3000)}
    assert next(t for t in tgs if t["Port"] == 8000)["HealthCheckPath"] == "/health"
    role = aws.client("iam").get_role_policy(RoleName="pmis-local-task-execution", PolicyName="read-secrets")
    document = role["PolicyDocument"]
    document = json.loads(unquote(document)) if isinstance(document, str) else document
    infra = env.result.infra
    assert infra is not None and infra.extra["db_master_secret_arn"].startswith("arn:aws:secretsmanager:")
    # exactly these: the app secrets and the RDS-managed master secret (the migration task's admin login)
    expected = sorted([*infra.secrets.values(), infra.extra["db_master_secret_arn"]])
    assert document["Statement"][0] == {
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": expected,
    }
    # and its KMS key when that is a customer key (moto models the managed secret's key as one)
    db = aws.client("rds").describe_db_instances(DBInstanceIdentifier="pmis-local-postgres")["DBInstances"][0]
    key = aws.client("kms").describe_key(KeyId=db["MasterUserSecret"]["KmsKeyId"])["KeyMetadata"]
    decrypt = [s for s in document["Statement"][1:] if s["Action"] == "kms:Decrypt"]
    assert len(document["Statement"]) == 1 + len(decrypt)
    if key["KeyManager"] == "CUSTOMER":
        via = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
        assert decrypt == [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"], "Condition": via}]
    else:
        assert decrypt == []


def test_second_run_makes_no_mutating_call(env: Provisioned) -> None:
    aws = env.clients()
    result = provision(aws, env.settings)
    assert result.changes == []
    assert aws.mutating_calls() == {}
    assert result.infra == env.result.infra


def test_a_master_password_rotation_changes_nothing_the_apps_use(env: Provisioned) -> None:
    """RDS rotates its managed secret (here: a new value); database-url keeps the app user and its password."""
    aws = env.clients()
    sm = aws.client("secretsmanager")
    infra = env.result.infra
    assert infra is not None
    master_arn = infra.extra["db_master_secret_arn"]
    master = json.loads(sm.get_secret_value(SecretId=master_arn)["SecretString"])
    before = sm.get_secret_value(SecretId="pmis-local/database-url")
    sm.put_secret_value(SecretId=master_arn, SecretString=json.dumps(master | {"password": "rotated-" + "x" * 24}))
    aws.calls.clear()
    result = provision(aws, env.settings)
    assert result.changes == [] and aws.mutating_calls() == {}
    after = sm.get_secret_value(SecretId="pmis-local/database-url")
    assert (after["VersionId"], after["SecretString"]) == (before["VersionId"], before["SecretString"])
    versions = sm.list_secret_version_ids(SecretId="pmis-local/database-url")["Versions"]
    assert len(versions) == 1


def test_a_master_user_url_is_replaced_by_the_app_user(env: Provisioned) -> None:
    """A database-url written the old way (the master's copy) moves to the app user, once, with a note."""
    from sqlalchemy.engine import make_url

    aws = env.clients()
    sm = aws.client("secretsmanager")
    before = make_url(sm.get_secret_value(SecretId="pmis-local/database-url")["SecretString"])
    old = before.set(username="pmis_admin", password="master-" + "y" * 20).render_as_string(hide_password=False)
    sm.put_secret_value(SecretId="pmis-local/database-url", SecretString=old)  # pragma: allowlist secret
    result = provision(aws, env.settings)
    assert [c.resource for c in result.changes] == ["secret pmis-local/database-url"]
    assert any("now names the app user pmis_app instead of pmis_admin" in n for n in result.notes)
    after = make_url(sm.get_secret_value(SecretId="pmis-local/database-url")["SecretString"])
    assert after.username == "pmis_app" and after.password not in (before.password, "master-" + "y" * 20)
    again = provision(aws, env.settings)
    assert again.changes == []  # the new password is kept from now on
    old_infra = env.result.infra
    assert again.infra is not None and old_infra is not None
    # the version every task definition reading DATABASE_URL pins: the next deploy registers and rolls them
    assert again.infra.secret_versions["database-url"] == after_version(aws)
    assert again.infra.secret_versions["database-url"] != old_infra.secret_versions["database-url"]
    assert {k: v for k, v in again.infra.secret_versions.items() if k != "database-url"} == {
        k: v for k, v in old_infra.secret_versions.items() if k != "database-url"
    }
    env.result.infra = again.infra  # the module's environment, as converged now (later tests compare with it)


def after_version(aws: AwsClients) -> str:
    version = awscurrent(aws, "pmis-local/database-url")
    assert version
    return version


def awscurrent(aws: AwsClients, secret: str) -> str | None:
    """The version id labelled AWSCURRENT (what a plain-ARN reference resolves at task start); None if no value."""
    stages = aws.client("secretsmanager").describe_secret(SecretId=secret).get("VersionIdsToStages", {})
    return next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)


def test_rds_elasticache_and_ecr_converge_concurrently(env: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of the three steps waits at a barrier that only opens when all three are inside it at once."""
    import threading

    from pmis_deploy.aws import cache, database, registry

    barrier = threading.Barrier(3, timeout=60)
    threads: dict[str, str] = {}

    def meeting(name: str, original: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            threads[name] = threading.current_thread().name
            barrier.wait()  # BrokenBarrierError (test failure) if the steps ran one after another
            return original(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(database, "plan", meeting("rds", database.plan))
    monkeypatch.setattr(cache, "plan", meeting("redis", cache.plan))
    monkeypatch.setattr(registry, "plan", meeting("ecr", registry.plan))
    assert provision(env.clients(), env.settings).changes == []
    assert len(set(threads.values())) == 3 and all(t.startswith("provision") for t in threads.values())


def test_dry_run_of_a_converged_environment_plans_nothing(env: Provisioned) -> None:
    aws = env.clients(dry_run=True)
    result = provision(aws, env.settings, dry_run=True)
    assert result.changes == [] and result.infra is None
    assert aws.mutating_calls() == {}


def run_task(task: object, *args: object, **kwargs: object) -> int:
    """Run an invoke task in-process; its exit code (invoke.Exit) or 0."""
    from invoke import Context
    from invoke.exceptions import Exit

    try:
        task(Context(), *args, **kwargs)  # type: ignore[operator]
    except Exit as exc:
        return int(exc.code)
    return 0


@pytest.fixture
def task_env(env: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """Tasks load settings themselves: point them at the module's emulator."""
    monkeypatch.setenv("PMIS_AWS__ENDPOINT_URL", str(env.settings.aws.endpoint_url))
    monkeypatch.setenv("PMIS_AWS__WAITER_DELAY_SECONDS", "1")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("PMIS_SECRETS__AZURE_OPENAI_API_KEY", raising=False)
    return env


def test_provision_task_exit_codes(task_env: Provisioned, capsys: pytest.CaptureFixture[str]) -> None:
    from tasks.aws_tasks import provision_aws

    assert run_task(provision_aws, dry_run=True) == 0
    assert "no changes" in capsys.readouterr().out
    aws = task_env.clients()
    aws.client("logs").put_retention_policy(logGroupName="/ecs/pmis-local", retentionInDays=1)
    try:
        assert run_task(provision_aws, dry_run=True) == 2
        assert "1 change(s) planned" in capsys.readouterr().out
    finally:
        aws.client("logs").put_retention_policy(
            logGroupName="/ecs/pmis-local", retentionInDays=task_env.settings.aws.log_retention_days
        )


def test_secret_tasks_read_stdin_and_never_print(
    task_env: Provisioned, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from tasks.secret_tasks import list_, set_secret

    key = "sk-never-printed-0123456789"
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    assert run_task(set_secret, "azure-openai-key", from_stdin=True) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    assert run_task(set_secret, "azure-openai-key", from_stdin=True, dry_run=True) == 0
    assert "no changes" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("postgresql://x\n"))
    assert run_task(set_secret, "database-url", from_stdin=True) == 1
    assert "built by provisioning" in capsys.readouterr().err
    assert run_task(list_) == 0
    out = capsys.readouterr()
    assert "pmis-local/azure-openai-key" in out.out and key not in out.out + out.err
    sm = task_env.clients().client("secretsmanager")
    assert sm.get_secret_value(SecretId="pmis-local/azure-openai-key")["SecretString"] == key


def test_read_infra_only_reads(env: Provisioned) -> None:
    aws = env.clients(dry_run=True)  # any write would raise
    infra = read_infra(aws, env.settings)
    assert env.result.infra is not None
    # the same, except versions of secrets written since (e.g. `inv secrets.set azure-openai-key` above)
    assert infra == replace(env.result.infra, secret_versions=infra.secret_versions)
    expected = {name: awscurrent(aws, arn) for name, arn in infra.secrets.items()}
    assert infra.secret_versions == {name: v for name, v in expected.items() if v}  # none for an empty secret
    assert set(infra.secret_versions) >= {"database-url", "redis-url", "celery-broker"}
    assert aws.mutating_calls() == {}


def test_configured_private_subnets_are_used_as_they_are(env: Provisioned) -> None:
    from pmis_deploy.aws import network

    infra = env.result.infra
    assert infra is not None
    settings = env.settings.model_copy(deep=True)
    settings.aws.network.private_subnet_ids = list(infra.private_subnet_ids)
    aws = env.clients(dry_run=True)
    changes, _ = network.plan(aws, settings)
    assert changes == []  # no subnet, NAT or route table of ours is planned; security groups converged
    assert network.read(aws, settings).private_subnet_ids == infra.private_subnet_ids
    settings.aws.network.private_subnet_ids = list(infra.private_subnet_ids[:1])
    with pytest.raises(rules.RuleViolation, match="at least 2 AZs"):
        network.plan(aws, settings)


def test_a_cidr_taken_by_another_subnet_is_refused(env: Provisioned) -> None:
    from pmis_deploy.aws import network
    from pmis_deploy.errors import ConfigError

    settings = env.settings.model_copy(deep=True)
    taken = env.clients().client("ec2").describe_subnets(SubnetIds=[env.result.infra.public_subnet_ids[0]])  # type: ignore[union-attr]
    settings.aws.network.private_subnet_cidrs = [taken["Subnets"][0]["CidrBlock"], "172.31.240.0/20"]
    with pytest.raises(ConfigError, match="is already used by subnet"):
        network.plan(env.clients(dry_run=True), settings)


def test_drift_is_converged_back(env: Provisioned) -> None:
    aws = env.clients()
    sg = env.result.infra.security_groups  # type: ignore[union-attr]
    aws.client("ec2").authorize_security_group_ingress(
        GroupId=sg["rds"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    aws.client("logs").put_retention_policy(logGroupName="/ecs/pmis-local", retentionInDays=1)
    aws.client("ecr").put_image_tag_mutability(repositoryName="pmis-local/api", imageTagMutability="MUTABLE")
    result = provision(env.clients(), env.settings)
    assert sorted((c.action, c.resource) for c in result.changes) == [
        ("update", "ECR repository pmis-local/api"),
        ("update", "log group /ecs/pmis-local"),
        ("update", "security group pmis-local-rds-sg"),
    ]
    rds_group = aws.client("ec2").describe_security_groups(GroupIds=[sg["rds"]])["SecurityGroups"][0]
    assert not any(p.get("IpRanges") for p in rds_group["IpPermissions"])
    again = env.clients()
    assert provision(again, env.settings).changes == [] and again.mutating_calls() == {}


def test_azure_key_from_settings_is_written_once_per_value(env: Provisioned) -> None:
    settings = env.settings.model_copy(deep=True)
    settings.secrets.azure_openai_api_key = SecretStr("sk-test-first")
    first = provision(env.clients(), settings)
    assert [(c.action, c.resource) for c in first.changes] == [("update", "secret pmis-local/azure-openai-key")]
    assert not any("azure-openai-key" in n for n in first.notes)
    settings.secrets.azure_openai_api_key = SecretStr("sk-test-second")
    aws = env.clients()
    assert len(provision(aws, settings).changes) == 1
    assert aws.mutating_calls() == {"secretsmanager:PutSecretValue": 1}  # a new version, nothing else
    value = aws.client("secretsmanager").get_secret_value(SecretId="pmis-local/azure-openai-key")["SecretString"]
    assert value == "sk-test-second"


def test_autoscaling_once_the_api_service_exists(env: Provisioned) -> None:
    infra = env.result.infra
    assert infra is not None
    aws = env.clients()
    assert ensure_autoscaling(aws, env.settings, infra) == []  # no service yet: nothing to register
    ecs = aws.client("ecs")
    definition = ecs.register_task_definition(
        family="pmis-local-api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "api", "image": "x", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=infra.cluster_name,
        serviceName=naming.ecs_service(env.settings, "api"),
        taskDefinition=definition,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(infra.private_subnet_ids),
                "securityGroups": [infra.security_groups["api"]],
            }
        },
    )
    changes = ensure_autoscaling(aws, env.settings, infra)
    assert [c.resource for c in changes] == [
        "scalable target service/pmis-local/pmis-local-api",
        "scaling policy pmis-local-api-cpu",
    ]
    target = aws.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][
        0
    ]
    autoscaling = env.settings.aws.autoscaling
    assert (target["MinCapacity"], target["MaxCapacity"]) == (autoscaling.min_count, autoscaling.max_count)
    assert ensure_autoscaling(env.clients(), env.settings, infra) == []
    again = env.clients()
    result = provision(again, env.settings)
    assert result.changes == [] and again.mutating_calls() == {}
    assert not any("deferred" in n for n in result.notes)


def test_a_certificate_moves_serving_to_443_and_redirects_80(env: Provisioned) -> None:
    """Last in the module: it changes the listeners."""
    aws = env.clients()
    cert = aws.client("acm").request_certificate(DomainName="pmis.example.com")["CertificateArn"]
    settings = env.settings.model_copy(deep=True)
    settings.aws.certificate_arn = cert
    result = provision(aws, settings)
    assert sorted((c.action, c.resource) for c in result.changes) == [
        ("create", "listener 443"),
        ("create", "listener 443 rule"),
        ("delete", "listener 80 rule"),
        ("update", "listener 80"),
    ]
    assert result.infra is not None
    elbv2 = aws.client("elbv2")
    listeners = {
        li["Port"]: li for li in elbv2.describe_listeners(LoadBalancerArn=result.infra.load_balancer_arn)["Listeners"]
    }
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == cert
    again = env.clients()
    assert provision(again, settings).changes == [] and again.mutating_calls() == {}
