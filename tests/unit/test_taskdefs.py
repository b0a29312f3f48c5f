"""Task-definition requests: real API member names, Fargate rules, secrets by full ARN, images by digest."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pmis_deploy.aws import taskdefs
from pmis_deploy.aws.infra import AwsInfra
from pmis_deploy.config import Settings, load_settings

ACCOUNT = "123456789012"
DIGEST = "sha256:" + "ab" * 32
REPO = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/pmis-staging"
URL_VERSION = "a1b2c3d4-0000-4000-8000-00000000000a"
APP_SECRETS = ("database-url", "redis-url", "celery-broker", "azure-openai-key")
# The AWSCURRENT version id of each app secret, as read_infra finds them.
VERSIONS = {n: f"a1b2c3d4-0000-4000-8000-00000000000{i}" for i, n in enumerate(APP_SECRETS)} | {
    "database-url": URL_VERSION
}
# An RDS-managed master secret's ARN (its name has a "!").
MASTER_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b-XyZ789"


def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:pmis-staging/{name}-AbC123"


def make_infra() -> AwsInfra:
    return AwsInfra(
        environment="staging",
        region="us-east-1",
        account_id=ACCOUNT,
        vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=("subnet-a", "subnet-b"),
        public_subnet_ids=("subnet-c", "subnet-d"),
        security_groups={"alb": "sg-alb", "api": "sg-api", "worker": "sg-worker", "web": "sg-web"},
        cluster_name="pmis-staging",
        cluster_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/pmis-staging",
        log_group="/ecs/pmis-staging",
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/pmis-staging-task-execution",
        task_role_arn=f"arn:aws:iam::{ACCOUNT}:role/pmis-staging-task",
        repositories={s: f"{REPO}/{s}" for s in ("api", "worker", "web")},
        secrets={n: secret_arn(n) for n in APP_SECRETS},
        target_group_arns={"api": "arn:tg/api", "web": "arn:tg/web"},
        load_balancer_dns="pmis-staging-alb.example.com",
        load_balancer_arn="arn:alb",
        state_bucket="pmis-staging-deploy-state-123456789012",
        secret_versions=dict(VERSIONS),
        extra={"db_master_secret_arn": MASTER_SECRET},
    )


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings("staging", environ={}).settings


@pytest.fixture(scope="module")
def requests(settings: Settings) -> dict[str, dict[str, Any]]:
    images = {s: f"{REPO}/{s}@{DIGEST}" for s in ("api", "worker", "web")}
    return taskdefs.build_all(settings, make_infra(), images)


def test_every_workload_has_a_fargate_awsvpc_definition(requests: dict[str, dict[str, Any]]) -> None:
    assert set(requests) == {"api", "worker", "beat", "web", "migrate"}
    for workload, req in requests.items():
        assert req["family"] == f"pmis-staging-{workload}"
        assert req["networkMode"] == "awsvpc"
        assert req["requiresCompatibilities"] == ["FARGATE"]
        assert isinstance(req["cpu"], str) and isinstance(req["memory"], str)
        assert req["executionRoleArn"].endswith(":role/pmis-staging-task-execution")
        assert req["taskRoleArn"].endswith(":role/pmis-staging-task")
        (container,) = req["containerDefinitions"]
        assert container["memory"] == int(req["memory"])  # moto's run_task needs container memory


def test_requests_use_the_real_camel_case_members(requests: dict[str, dict[str, Any]]) -> None:
    """botocore's own validator accepts them (the runbook's kebab-case keys fail here, T1)."""
    from botocore.validate import ParamValidator

    ecs = boto3.session.Session().client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    shape = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
    assert shape is not None
    for req in requests.values():
        report = ParamValidator().validate(req, shape)
        assert not report.has_errors(), report.generate_report()
    bad = {"family": "x", "network-mode": "awsvpc", "container-definitions": []}
    assert ParamValidator().validate(bad, shape).has_errors()
    api = requests["api"]["containerDefinitions"][0]
    assert api["portMappings"] == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}]
    assert api["logConfiguration"]["logDriver"] == "awslogs"
    assert api["logConfiguration"]["options"]["awslogs-group"] == "/ecs/pmis-staging"


def pinned(name: str) -> str:
    """ECS's whole-secret reference to one version: `<arn>:<json-key>:<version-stage>:<version-id>`."""
    return f"{secret_arn(name)}:::{VERSIONS[name]}"


def test_secrets_are_value_from_full_arns_pinned_to_the_read_version(requests: dict[str, dict[str, Any]]) -> None:
    api = requests["api"]["containerDefinitions"][0]
    names = {s["name"]: s["valueFrom"] for s in api["secrets"]}
    assert names == {
        "DATABASE_URL": pinned("database-url"),
        "REDIS_URL": pinned("redis-url"),
        "CELERY_BROKER_URL": pinned("celery-broker"),
        "AZURE_OPENAI_API_KEY": pinned("azure-openai-key"),
    }
    assert all(taskdefs.SECRET_ARN.match(v) for v in names.values())
    for workload in ("worker", "beat"):
        container = requests[workload]["containerDefinitions"][0]
        assert all(
            s["valueFrom"].endswith(":::" + VERSIONS[taskdefs.SECRET_ENV[s["name"]]]) for s in container["secrets"]
        )
    env = {e["name"] for e in api["environment"]}
    assert not env & set(names)
    assert requests["web"]["containerDefinitions"][0]["secrets"] == []


def test_only_the_migration_gets_the_master_login_by_json_key(requests: dict[str, dict[str, Any]]) -> None:
    migrate = {s["name"]: s["valueFrom"] for s in requests["migrate"]["containerDefinitions"][0]["secrets"]}
    assert migrate == {
        # the app user (alembic runs as it), pinned to the current version: a new one re-registers migrate
        "DATABASE_URL": f"{secret_arn('database-url')}:::{URL_VERSION}",
        # RDS rotates the master secret: never pinned, the task reads the current one when it starts
        "DATABASE_ADMIN_USERNAME": f"{MASTER_SECRET}:username::",
        "DATABASE_ADMIN_PASSWORD": f"{MASTER_SECRET}:password::",
    }
    assert all(taskdefs.SECRET_ARN.match(v) for v in migrate.values())
    for workload in ("api", "worker", "beat", "web"):
        container = requests[workload]["containerDefinitions"][0]
        names = {s["name"] for s in container["secrets"]} | {e["name"] for e in container["environment"]}
        assert not names & {"DATABASE_ADMIN_USERNAME", "DATABASE_ADMIN_PASSWORD"}
        assert not any(MASTER_SECRET in s["valueFrom"] for s in container["secrets"])


def test_a_new_secret_version_changes_exactly_the_definitions_that_read_it(settings: Settings) -> None:
    """What `inv secrets.set azure-openai-key` causes: api and worker change (their hash, so they are
    registered and rolled); beat, web and migrate do not read the key and stay as they are."""
    images = {s: f"{REPO}/{s}@{DIGEST}" for s in ("api", "worker", "web")}
    before = taskdefs.build_all(settings, make_infra(), images)
    infra = make_infra()
    infra.secret_versions["azure-openai-key"] = "b2c3d4e5-0000-4000-8000-00000000000b"
    after = taskdefs.build_all(settings, infra, images)
    changed = {w for w in taskdefs.WORKLOADS if taskdefs.spec_hash(before[w]) != taskdefs.spec_hash(after[w])}
    assert changed == {"api", "worker"}
    assert {w for w in taskdefs.WORKLOADS if "AZURE_OPENAI_API_KEY" in taskdefs.SECRETS_OF[w]} == changed
    infra.secret_versions["database-url"] = "c3d4e5f6-0000-4000-8000-00000000000c"
    again = taskdefs.build_all(settings, infra, images)
    changed = {w for w in taskdefs.WORKLOADS if taskdefs.spec_hash(after[w]) != taskdefs.spec_hash(again[w])}
    assert changed == {"api", "worker", "beat", "migrate"}  # every reader of DATABASE_URL; web reads no secret


def test_a_secret_without_a_value_yet_is_referenced_unpinned(settings: Settings) -> None:
    """No AWSCURRENT version to pin (azure-openai-key before `inv secrets.set`): the plain ARN."""
    infra = make_infra()
    del infra.secret_versions["azure-openai-key"]
    request = taskdefs.build_task_definition(settings, infra, "api", f"{REPO}/api@{DIGEST}")
    names = {s["name"]: s["valueFrom"] for s in request["containerDefinitions"][0]["secrets"]}
    assert names["AZURE_OPENAI_API_KEY"] == secret_arn("azure-openai-key")
    assert names["DATABASE_URL"] == pinned("database-url")


@pytest.mark.parametrize(
    ("suffix", "valid"),
    [
        ("", True),
        (":::a1b2c3d4-0000-4000-8000-00000000000a", True),
        ("::AWSPREVIOUS:", True),
        (":username::", True),
        (":password::a1b2c3d4-0000-4000-8000-00000000000a", True),
        (":::", True),
        (":username", False),  # not the documented three parts
        (":::a1b2c3d4-0000-4000-8000-00000000000a:extra", False),
    ],
)
def test_secret_references_follow_the_documented_ecs_form(
    requests: dict[str, dict[str, Any]], suffix: str, valid: bool
) -> None:
    request = copy.deepcopy(requests["api"])
    request["containerDefinitions"][0]["secrets"][0]["valueFrom"] = secret_arn("database-url") + suffix
    if valid:
        taskdefs.validate(request)
    else:
        with pytest.raises(taskdefs.TaskDefinitionInvalid, match="DATABASE_URL"):
            taskdefs.validate(request)


@pytest.mark.parametrize("workload", ["api", "worker", "beat", "web"])
def test_validate_refuses_the_master_login_outside_the_migration(
    requests: dict[str, dict[str, Any]], workload: str
) -> None:
    bad = copy.deepcopy(requests[workload])
    bad["containerDefinitions"][0]["secrets"].append(
        {"name": "DATABASE_ADMIN_PASSWORD", "valueFrom": f"{MASTER_SECRET}:password::"}
    )
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match=r"DATABASE_ADMIN_PASSWORD .* migration task only"):
        taskdefs.validate(bad)
    renamed = copy.deepcopy(requests["migrate"])  # the migrate container in another family is no migration
    renamed["family"] = f"pmis-staging-{workload}"
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match="migration task only"):
        taskdefs.validate(renamed)
    plain = copy.deepcopy(requests["migrate"])
    plain["containerDefinitions"][0]["environment"].append({"name": "DATABASE_ADMIN_PASSWORD", "value": "x"})
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match="must be secrets"):
        taskdefs.validate(plain)


def test_the_migration_needs_the_master_secret(settings: Settings) -> None:
    import dataclasses

    infra = dataclasses.replace(make_infra(), extra={})
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match="RDS-managed master secret is unknown"):
        taskdefs.build_task_definition(settings, infra, "migrate", f"{REPO}/api@{DIGEST}")
    taskdefs.build_task_definition(settings, infra, "api", f"{REPO}/api@{DIGEST}")  # the others do not


def test_images_are_pinned_by_digest_and_commands_per_workload(requests: dict[str, dict[str, Any]]) -> None:
    images = {w: r["containerDefinitions"][0]["image"] for w, r in requests.items()}
    assert images["migrate"] == images["api"] == f"{REPO}/api@{DIGEST}"
    assert images["beat"] == images["worker"]
    assert all(not i.endswith(":latest") for i in images.values())
    cmd = {w: r["containerDefinitions"][0].get("command") for w, r in requests.items()}
    # the role bootstrap (admin login), then exec alembic as the app user
    assert cmd["migrate"] == ["python", "-m", "app.dbbootstrap", "alembic", "upgrade", "head"]
    assert "beat" in cmd["beat"] and "worker" in cmd["worker"]
    assert cmd["api"] is None  # the image's CMD (uvicorn), which never migrates (M5)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["containerDefinitions"][0].update(image=f"{REPO}/api:latest"), ":latest"),
        (lambda r: r["containerDefinitions"][0].update(image=f"{REPO}/api"), "untagged"),
        (lambda r: r["containerDefinitions"][0].update(image=f"{REPO}/api:0123abc"), "not pinned by digest"),
        (lambda r: r.update(networkMode="bridge"), "awsvpc"),
        (lambda r: r.update(requiresCompatibilities=["EC2"]), "FARGATE"),
        (lambda r: r.update(cpu=512), "strings"),
        (lambda r: r.update(cpu="256", memory="4096"), "not a valid Fargate combination"),
        (
            lambda r: r["containerDefinitions"][0]["secrets"][0].update(
                valueFrom="arn:aws:secretsmanager:us-east-1:123456789012:secret:pmis/database-url"
            ),
            "full Secrets Manager ARN",
        ),
        (
            lambda r: r["containerDefinitions"][0]["environment"].append({"name": "DATABASE_URL", "value": "x"}),
            "must be secrets",
        ),
        (lambda r: r["containerDefinitions"][0].pop("memory"), "memory"),
    ],
)
def test_validate_rejects_what_real_ecs_or_rollback_would(
    requests: dict[str, dict[str, Any]], mutate: Any, message: str
) -> None:
    bad = copy.deepcopy(requests["api"])
    mutate(bad)
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match=message):
        taskdefs.validate(bad)


def test_unpinned_sha_tag_only_when_images_are_not_pushed(requests: dict[str, dict[str, Any]]) -> None:
    req = copy.deepcopy(requests["api"])
    req["containerDefinitions"][0]["image"] = f"{REPO}/api:0123abc"
    taskdefs.validate(req, allow_unpinned=True)  # local: repo:<git-sha>
    req["containerDefinitions"][0]["image"] = f"{REPO}/api:latest"
    with pytest.raises(taskdefs.TaskDefinitionInvalid, match="latest"):
        taskdefs.validate(req, allow_unpinned=True)


def _stubbed() -> tuple[Any, Stubber]:
    ecs = boto3.session.Session().client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return ecs, Stubber(ecs)


def test_register_if_changed_reuses_an_identical_revision(requests: dict[str, dict[str, Any]]) -> None:
    req = requests["api"]
    ecs, stub = _stubbed()
    arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/pmis-staging-api:7"
    stub.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {"taskDefinitionArn": arn, "family": req["family"], "status": "ACTIVE"},
            "tags": [{"key": taskdefs.SPEC_TAG, "value": taskdefs.spec_hash(req)}],
        },
        {"taskDefinition": req["family"], "include": ["TAGS"]},
    )
    with stub:
        assert taskdefs.register_if_changed(ecs, req) == (arn, False)
    stub.assert_no_pending_responses()


def test_register_if_changed_registers_a_changed_definition_with_its_hash(
    requests: dict[str, dict[str, Any]],
) -> None:
    req = requests["api"]
    ecs, stub = _stubbed()
    old = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/pmis-staging-api:7"
    new = old[:-1] + "8"
    stub.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {"taskDefinitionArn": old, "status": "ACTIVE"},
            "tags": [{"key": taskdefs.SPEC_TAG, "value": "x"}],
        },
    )
    stub.add_response(
        "register_task_definition",
        {"taskDefinition": {"taskDefinitionArn": new}},
        {
            **req,
            "tags": [
                {"key": taskdefs.SPEC_TAG, "value": taskdefs.spec_hash(req)},
                {"key": "managed-by", "value": "pmis-deploy"},
            ],
        },
    )
    with stub:
        assert taskdefs.register_if_changed(ecs, req) == (new, True)
    stub.assert_no_pending_responses()


def test_register_if_changed_in_dry_run_only_reads(requests: dict[str, dict[str, Any]]) -> None:
    ecs, stub = _stubbed()
    stub.add_client_error("describe_task_definition", "ClientException", "Unable to describe task definition.")
    with stub:
        assert taskdefs.register_if_changed(ecs, requests["web"], dry_run=True) == (None, True)
    stub.assert_no_pending_responses()
