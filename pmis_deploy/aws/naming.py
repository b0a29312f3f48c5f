"""Names of every AWS resource of an environment, in one place (provision and deploy share them).

With project `pmis` and environment `staging`:

    security groups   pmis-staging-{alb,api,web,worker,rds,redis}-sg
    private subnets   pmis-staging-private-<az>          (Name tag; created only when none are configured)
    egress            NAT gateway pmis-staging-nat, route table pmis-staging-private (with those subnets)
    RDS               pmis-staging-postgres, subnet group pmis-staging-db-subnets
    ElastiCache       pmis-staging-redis,    subnet group pmis-staging-cache-subnets
    secrets           pmis-staging/database-url, /redis-url, /celery-broker, /azure-openai-key,
                      /redis-auth-token (the ElastiCache AUTH token itself)
    ECR               pmis-staging/api, pmis-staging/worker, pmis-staging/web
    IAM roles         pmis-staging-task-execution, pmis-staging-task
    ECS cluster       pmis-staging; log group /ecs/pmis-staging
    ECS services      pmis-staging-api, -worker, -beat, -web (created by the deploy flow)
    ALB               pmis-staging-alb; target groups pmis-staging-api, pmis-staging-web
    dashboard/alarms  pmis-staging, pmis-staging-<alarm>
    deploy state      pmis-staging-deploy-state-<account id> (S3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

SERVICES = ("api", "worker", "web")  # ECR repositories (beat runs the worker image)
ECS_SERVICES = ("api", "worker", "beat", "web")  # long-running ECS services (created by the deploy flow)
SECURITY_GROUP_ROLES = ("alb", "api", "web", "worker", "rds", "redis")
API_PORT = 8000
WEB_PORT = 3000
POSTGRES_PORT = 5432
REDIS_PORT = 6379
API_HEALTH_PATH = "/health"

# Logical secret names → what they hold.
SECRET_NAMES = ("database-url", "redis-url", "celery-broker", "azure-openai-key", "redis-auth-token")
APP_SECRETS = ("database-url", "redis-url", "celery-broker", "azure-openai-key")  # injected into tasks


def security_group(settings: Settings, role: str) -> str:
    return settings.name(role, "sg")


def private_subnet(settings: Settings, az: str) -> str:
    return settings.name("private", az)


def nat_gateway(settings: Settings) -> str:
    return settings.name("nat")


def private_route_table(settings: Settings) -> str:
    return settings.name("private")


def db_instance(settings: Settings) -> str:
    return settings.name("postgres")


def db_subnet_group(settings: Settings) -> str:
    return settings.name("db-subnets")


def replication_group(settings: Settings) -> str:
    return settings.name("redis")


def cache_subnet_group(settings: Settings) -> str:
    return settings.name("cache-subnets")


def secret(settings: Settings, logical: str) -> str:
    return f"{settings.project}-{settings.environment.value}/{logical}"


def repository(settings: Settings, service: str) -> str:
    return f"{settings.project}-{settings.environment.value}/{service}"


def execution_role(settings: Settings) -> str:
    return settings.name("task-execution")


def task_role(settings: Settings) -> str:
    return settings.name("task")


def cluster(settings: Settings) -> str:
    return settings.name()


def log_group(settings: Settings) -> str:
    return f"/ecs/{settings.name()}"


def ecs_service(settings: Settings, service: str) -> str:
    return settings.name(service)


def load_balancer(settings: Settings) -> str:
    return settings.name("alb")


def target_group(settings: Settings, service: str) -> str:
    return settings.name(service)


def dashboard(settings: Settings) -> str:
    return settings.name()


def alarm(settings: Settings, what: str) -> str:
    return settings.name(what)


def state_bucket(settings: Settings, account_id: str) -> str:
    return f"{settings.name('deploy-state')}-{account_id}"
