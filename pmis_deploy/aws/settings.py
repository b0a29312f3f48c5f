"""Settings of the AWS target (the `[aws]` table)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from pmis_deploy.settings_base import Strict

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_INSTANCE_FAMILIES = ("t3", "t4g", "m5", "m6g", "m6i", "m7g", "m7i", "r5", "r6g", "r6i", "r7g")
_INSTANCE_SIZES = ("micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge")
KNOWN_DB_CLASSES = tuple(f"db.{f}.{s}" for f in _INSTANCE_FAMILIES for s in _INSTANCE_SIZES)
KNOWN_CACHE_NODE_TYPES = tuple(
    f"cache.{f}.{s}" for f in ("t3", "t4g", "m5", "m6g", "m7g", "r5", "r6g", "r7g") for s in _INSTANCE_SIZES
)
# Valid Fargate cpu → memory (MiB) combinations.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}


def _closest(value: str, options: tuple[str, ...]) -> str:
    import difflib

    match = difflib.get_close_matches(value, options, n=1)
    return f" (did you mean {match[0]}?)" if match else ""


class AwsDatabase(Strict):
    instance_class: str = "db.t4g.micro"
    engine_version: str = "15"
    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    max_allocated_storage_gb: int = Field(100, ge=20, le=65536)
    multi_az: bool = False
    deletion_protection: bool = False
    backup_retention_days: int = Field(30, ge=1, le=35)
    db_name: str = Field("pmis", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
    master_username: str = Field("pmis_admin", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
    # The least-privilege role the apps connect as (database-url); created by the migration task, which
    # alone receives the RDS-managed master credentials. Lower-case: PostgreSQL folds unquoted names.
    app_user: str = Field("pmis_app", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @field_validator("instance_class")
    @classmethod
    def _known_class(cls, v: str) -> str:
        if v not in KNOWN_DB_CLASSES:
            raise ValueError(f"is not a known instance class{_closest(v, KNOWN_DB_CLASSES)}")
        return v

    @field_validator("engine_version")
    @classmethod
    def _major_15(cls, v: str) -> str:
        if v != "15" and not re.fullmatch(r"15\.\d+", v):
            raise ValueError("must be PostgreSQL 15: '15' (latest 15.x, recommended) or a current 15 minor")
        return v

    @model_validator(mode="after")
    def _app_user_is_not_the_master(self) -> AwsDatabase:
        if self.app_user.lower() == self.master_username.lower() or self.app_user.startswith(("pg_", "rds")):
            raise ValueError("app_user must be a role of its own: not the master user, not a reserved pg_*/rds* name")
        return self


class AwsCache(Strict):
    node_type: str = "cache.t4g.micro"
    engine_version: str = Field("7.1", pattern=r"^7(\.\d+)?$")
    num_cache_clusters: int = Field(2, ge=2, le=6)

    @field_validator("node_type")
    @classmethod
    def _known_node(cls, v: str) -> str:
        if v not in KNOWN_CACHE_NODE_TYPES:
            raise ValueError(f"is not a known cache node type{_closest(v, KNOWN_CACHE_NODE_TYPES)}")
        return v


class AwsNetwork(Strict):
    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[str] = Field(default_factory=list)
    public_subnet_ids: list[str] = Field(default_factory=list)
    # CIDRs used when private subnets must be created in the VPC (one per AZ).
    private_subnet_cidrs: list[str] = Field(default_factory=lambda: ["172.31.96.0/20", "172.31.112.0/20"])
    # Outbound access for tasks in the private subnets we create (ECR pulls, Secrets Manager, logs):
    # one NAT gateway and a private route table. Ignored when private_subnet_ids are configured.
    nat_gateway: bool = True


class AwsService(Strict):
    cpu: int = 512
    memory: int = 1024
    desired_count: int = Field(1, ge=0, le=100)

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, v: int) -> int:
        if v not in FARGATE_MEMORY:
            raise ValueError(f"is not a Fargate CPU size; use one of {', '.join(map(str, FARGATE_MEMORY))}")
        return v


class AwsAutoscaling(Strict):
    min_count: int = Field(2, ge=1)
    max_count: int = Field(10, ge=1)
    cpu_target_percent: float = Field(70.0, gt=0, le=100)


class AwsServices(Strict):
    api: AwsService = AwsService(desired_count=2)
    worker: AwsService = AwsService()
    beat: AwsService = AwsService(cpu=256, memory=512)
    web: AwsService = AwsService(cpu=256, memory=512)
    migrate: AwsService = AwsService()


class AwsSettings(Strict):
    region: str = "us-east-1"
    # None = real AWS (or the standard AWS_ENDPOINT_URL); "embedded" = the local emulator, started on demand.
    endpoint_url: str | None = None
    profile: str | None = None
    database: AwsDatabase = AwsDatabase()
    cache: AwsCache = AwsCache()
    network: AwsNetwork = AwsNetwork()
    services: AwsServices = AwsServices()
    autoscaling: AwsAutoscaling = AwsAutoscaling()
    ecr_keep_images: int = Field(30, ge=1, le=1000)
    log_retention_days: int = Field(30, ge=1)
    certificate_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$")
    alarm_topic_arn: str | None = None
    rollout_timeout_seconds: int = Field(900, ge=30)
    # Waiters (RDS, ElastiCache, ALB, NAT): seconds between polls and the longest wait.
    waiter_delay_seconds: int = Field(15, ge=1, le=300)
    waiter_max_minutes: int = Field(60, ge=1, le=240)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not _REGION.match(v):
            raise ValueError("is not an AWS region name (like us-east-1)")
        return v
