"""ECS task definitions: pure request builders, the rules real ECS enforces, and register-if-changed.

    requests = build_all(settings, infra, images={"api": "…/api@sha256:…", "worker": …, "web": …})
    arn, changed = register_if_changed(aws.client("ecs"), requests["api"])

Requests use the real RegisterTaskDefinition members (camelCase; guide-defects T1/T4): awsvpc, FARGATE,
task-level cpu/memory as strings, secrets as `valueFrom` full secret ARNs (T2), images pinned by digest
(T3, R1). Every container also sets `memory` (Fargate accepts it; moto's run_task needs it).

Every app secret is pinned to the version the release read (`<arn>:::<version-id>`, AwsInfra.secret_versions):
ECS resolves a plain ARN to AWSCURRENT only when a task starts, so a new value would reach running services
at some random later restart, and a rollback could not bring back the values a release ran with. Pinned, a
new version changes exactly the definitions of the workloads that read it: the next deploy registers and
rolls those (and only those), and a rollback's definitions still name the old versions.

The migration task alone also gets the RDS master login (DATABASE_ADMIN_USERNAME/PASSWORD, ECS JSON-key
references `<master secret ARN>:username::` into the RDS-managed secret, so always the current password):
it creates or updates the apps' own role (python -m app.dbbootstrap) before `alembic upgrade head` runs
as that role. validate() refuses the admin login in any other container.

Only a changed definition is registered (T5): each registered revision carries a tag with the SHA-256
of its request, and a definition whose latest ACTIVE revision has the same hash is reused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.settings import FARGATE_MEMORY
from pmis_deploy.envvars import SECRET_VARIABLES
from pmis_deploy.errors import DeployError

if TYPE_CHECKING:
    from pmis_deploy.aws.infra import AwsInfra
    from pmis_deploy.config import Settings

# Long-running ECS services, in rollout order (worker first: new tasks may be enqueued by the new api).
SERVICES = ("worker", "beat", "api", "web")
# Every task definition family: the services plus the one-off migration.
WORKLOADS = (*SERVICES, "migrate")
# Which image (ECR repository) each workload runs.
IMAGE_OF = {"api": "api", "migrate": "api", "worker": "worker", "beat": "worker", "web": "web"}
PORT_OF = {"api": naming.API_PORT, "web": naming.WEB_PORT}
COMMAND_OF: dict[str, list[str]] = {
    "worker": ["celery", "-A", "worker.celery_app", "worker", "--loglevel", "INFO"],
    "beat": ["celery", "-A", "worker.celery_app", "beat", "--loglevel", "INFO"],
    # Create/update the app's database role with the admin login, then exec the migration as the app user.
    "migrate": ["python", "-m", "app.dbbootstrap", "alembic", "upgrade", "head"],
}
# Environment variable → logical secret (AwsInfra.secrets key), per workload.
SECRET_ENV = {
    "DATABASE_URL": "database-url",
    "REDIS_URL": "redis-url",
    "CELERY_BROKER_URL": "celery-broker",
    "AZURE_OPENAI_API_KEY": "azure-openai-key",
}
SECRETS_OF: dict[str, tuple[str, ...]] = {
    "api": ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AZURE_OPENAI_API_KEY"),
    "worker": ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AZURE_OPENAI_API_KEY"),
    "beat": ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"),
    "migrate": ("DATABASE_URL",),
    "web": (),
}
# Environment variable → JSON key of the RDS-managed master secret (AwsInfra.extra["db_master_secret_arn"]).
ADMIN_SECRET_ENV = {
    "DATABASE_ADMIN_USERNAME": "username",
    "DATABASE_ADMIN_PASSWORD": "password",  # pragma: allowlist secret
}
# The only workloads that may hold the database's master login.
ADMIN_WORKLOADS = ("migrate",)
SPEC_TAG = "pmis:spec-sha256"

# A full secret ARN (RDS-managed names contain "!"), optionally `:json-key:version-stage:version-id` (ECS's
# documented form, all three parts present, each may be empty: `<arn>:::<version-id>` pins a whole secret).
SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!-]+-[A-Za-z0-9]{6}(:[^:]*:[^:]*:[^:]*)?$"
)
DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
TAG_REF = re.compile(r"^[^@\s:]+(:\d+)?/[^@\s:]+:(?P<tag>[\w][\w.-]{0,127})$")


class TaskDefinitionInvalid(DeployError):
    """A task definition real ECS would reject, or one that breaks the release rules."""


def family(settings: Settings, workload: str) -> str:
    return naming.ecs_service(settings, workload)


def container_definition(settings: Settings, infra: AwsInfra, workload: str, image: str) -> dict[str, Any]:
    """The single container of `workload` (named after it)."""
    size = getattr(settings.aws.services, workload)
    container: dict[str, Any] = {
        "name": workload,
        "image": image,
        "essential": True,
        "memory": size.memory,
        "environment": [
            {"name": "ENVIRONMENT", "value": settings.environment.value},
            {"name": "LOG_LEVEL", "value": settings.log_level.value},
        ],
        "secrets": [
            {"name": env, "valueFrom": value_from(infra, env)}
            for env in SECRETS_OF[workload]
            if SECRET_ENV[env] in infra.secrets
        ]
        + (admin_secrets(infra) if workload in ADMIN_WORKLOADS else []),
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": infra.log_group,
                "awslogs-region": infra.region,
                "awslogs-stream-prefix": workload,
            },
        },
    }
    if workload in COMMAND_OF:
        container["command"] = list(COMMAND_OF[workload])
    if workload in PORT_OF:
        port = PORT_OF[workload]
        container["portMappings"] = [{"containerPort": port, "hostPort": port, "protocol": "tcp"}]
        container["environment"].append({"name": "PORT", "value": str(port)})
    if workload == "api":
        probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{naming.API_PORT}"
        probe += f"{settings.deploy.health_path}', timeout=4)"
        container["healthCheck"] = {
            "command": ["CMD", "python", "-c", probe],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        }
    return container


def value_from(infra: AwsInfra, env: str) -> str:
    """The secret's full ARN pinned to the version this release read: `<arn>:::<version-id>`.

    A new version (`inv secrets.set`, or provision writing a new URL) therefore changes the definition of
    every workload that reads the secret, so the next deploy registers and rolls exactly those; for
    migrate's DATABASE_URL that also runs the migration again, which sets the app role's password. A
    secret with no value yet has no version to pin: the plain ARN (provision's notes say to set it).
    """
    logical = SECRET_ENV[env]
    arn = infra.secrets[logical]
    version = infra.secret_versions.get(logical)
    return f"{arn}:::{version}" if version else arn


def pinned_versions(task_definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(secret ARN, version id) of every version-pinned secret reference in a described task definition."""
    pins = []
    for container in task_definition.get("containerDefinitions", []):
        for secret in container.get("secrets", []):
            parts = str(secret.get("valueFrom", "")).split(":")
            if len(parts) == 10 and parts[9]:  # arn (7 parts) : json-key : version-stage : version-id
                pins.append((":".join(parts[:7]), parts[9]))
    return pins


def admin_secrets(infra: AwsInfra) -> list[dict[str, str]]:
    """DATABASE_ADMIN_* as JSON-key references into the RDS-managed master secret (read at task start).

    Deliberately NOT pinned to a version: RDS rotates this managed secret (every 7 days), and the old
    password stops working once it has, so the migration must always read the current one (AWSCURRENT).
    """
    master = infra.extra.get("db_master_secret_arn", "")
    if not master:
        raise TaskDefinitionInvalid(
            "the RDS-managed master secret is unknown, so the migration task cannot create the app's database role",
            hint="run `inv provision.aws` (the RDS instance must have ManageMasterUserPassword)",
        )
    return [{"name": env, "valueFrom": f"{master}:{key}::"} for env, key in ADMIN_SECRET_ENV.items()]


def build_task_definition(settings: Settings, infra: AwsInfra, workload: str, image: str) -> dict[str, Any]:
    """The RegisterTaskDefinition request of one workload (validated)."""
    size = getattr(settings.aws.services, workload)
    request: dict[str, Any] = {
        "family": family(settings, workload),
        "taskRoleArn": infra.task_role_arn,
        "executionRoleArn": infra.execution_role_arn,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(size.cpu),
        "memory": str(size.memory),
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [container_definition(settings, infra, workload, image)],
    }
    validate(request, allow_unpinned=not settings.deploy.push_images)
    return request


def build_all(settings: Settings, infra: AwsInfra, images: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Requests for every workload; `images` maps repository (api, worker, web) → pinned reference."""
    return {w: build_task_definition(settings, infra, w, images[IMAGE_OF[w]]) for w in WORKLOADS}


def validate(request: Mapping[str, Any], *, allow_unpinned: bool = False) -> None:
    """Raise TaskDefinitionInvalid for what real ECS rejects (moto accepts) or what breaks rollback.

    `allow_unpinned` permits `repo:<git-sha>` (the `local` environment, where images are not pushed);
    `:latest` is refused always.
    """
    where = f"task definition {request.get('family')!r}"
    problems: list[str] = []
    if request.get("networkMode") != "awsvpc":
        problems.append("networkMode must be 'awsvpc' (Fargate)")
    if request.get("requiresCompatibilities") != ["FARGATE"]:
        problems.append("requiresCompatibilities must be ['FARGATE']")
    cpu, memory = request.get("cpu"), request.get("memory")
    if not (isinstance(cpu, str) and isinstance(memory, str) and cpu.isdigit() and memory.isdigit()):
        problems.append("task-level cpu and memory must be strings of digits, e.g. '512' and '1024'")
    elif int(memory) not in FARGATE_MEMORY.get(int(cpu), ()):
        problems.append(f"cpu {cpu} / memory {memory} is not a valid Fargate combination")
    if not request.get("executionRoleArn"):
        problems.append("executionRoleArn is required to pull from ECR and read secrets")
    containers = request.get("containerDefinitions") or []
    if not containers:
        problems.append("containerDefinitions is empty")
    for c in containers:
        name = c.get("name")
        image = str(c.get("image", ""))
        if image.endswith(":latest") or ("@" not in image and ":" not in image.rsplit("/", 1)[-1]):
            problems.append(f"container {name}: image {image!r} is :latest (or untagged); pin it by digest")
        elif not DIGEST_REF.match(image) and not (allow_unpinned and TAG_REF.match(image)):
            problems.append(f"container {name}: image {image!r} is not pinned by digest (repo@sha256:…)")
        for secret in c.get("secrets", []):
            if not SECRET_ARN.match(str(secret.get("valueFrom", ""))):
                problems.append(
                    f"container {name}: secret {secret.get('name')} valueFrom {secret.get('valueFrom')!r} "
                    "is not a full Secrets Manager ARN (with its 6-character suffix, optionally "
                    "`:json-key:version-stage:version-id`)"
                )
        plain = {e.get("name") for e in c.get("environment", [])} & (SECRET_VARIABLES | set(ADMIN_SECRET_ENV))
        if plain:
            problems.append(f"container {name}: {', '.join(sorted(plain))} must be secrets, not plain environment")
        admin = {s.get("name") for s in c.get("secrets", [])} & set(ADMIN_SECRET_ENV)
        if admin and not (name in ADMIN_WORKLOADS and str(request.get("family", "")).endswith(f"-{name}")):
            problems.append(
                f"container {name}: {', '.join(sorted(admin))} (the database master login) belong to the migration "
                "task only"
            )
        if not c.get("memory") and not c.get("memoryReservation"):
            problems.append(f"container {name}: set memory or memoryReservation")
        if c.get("portMappings") and any(p.get("hostPort") != p.get("containerPort") for p in c["portMappings"]):
            problems.append(f"container {name}: awsvpc needs hostPort == containerPort")
    if problems:
        raise TaskDefinitionInvalid(f"{where}: " + "; ".join(problems), hint="this is a bug in the builder")


def spec_hash(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def current(ecs: Any, family_name: str) -> dict[str, Any] | None:
    """The latest ACTIVE revision of `family_name` with its tags, or None."""
    try:
        response = ecs.describe_task_definition(taskDefinition=family_name, include=["TAGS"])
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("ClientException", "InvalidParameterException"):
            return None
        raise
    definition = dict(response["taskDefinition"])
    definition["tags"] = response.get("tags", [])
    return definition


def is_current(existing: Mapping[str, Any] | None, request: Mapping[str, Any]) -> bool:
    if existing is None or existing.get("status", "ACTIVE") != "ACTIVE":
        return False
    tags = {t.get("key"): t.get("value") for t in existing.get("tags", [])}
    return tags.get(SPEC_TAG) == spec_hash(request)


def register_if_changed(ecs: Any, request: Mapping[str, Any], *, dry_run: bool = False) -> tuple[str | None, bool]:
    """(task-definition ARN, registered?) — the existing revision when unchanged; (None, True) when a dry-run
    would register."""
    existing = current(ecs, str(request["family"]))
    if is_current(existing, request):
        assert existing is not None
        return str(existing["taskDefinitionArn"]), False
    if dry_run:
        return None, True
    response = ecs.register_task_definition(
        **request, tags=[{"key": SPEC_TAG, "value": spec_hash(request)}, {"key": "managed-by", "value": "pmis-deploy"}]
    )
    return str(response["taskDefinition"]["taskDefinitionArn"]), True
