"""What provisioning produces and deploying consumes: the converged AWS resources of one environment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AwsInfra:
    """Identifiers of the converged infrastructure (read back from AWS, never assumed)."""

    environment: str
    region: str
    account_id: str
    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    public_subnet_ids: tuple[str, ...]
    security_groups: dict[str, str]  # role → sg id: alb, api, worker, web, rds, redis
    cluster_name: str
    cluster_arn: str
    log_group: str
    execution_role_arn: str
    task_role_arn: str
    repositories: dict[str, str]  # service → repository URI (api, worker, web)
    secrets: dict[str, str]  # logical name → full secret ARN: database-url, redis-url, celery-broker, azure-openai-key
    target_group_arns: dict[str, str]  # service → target group ARN (api, web)
    load_balancer_dns: str
    load_balancer_arn: str
    state_bucket: str  # S3 bucket holding the deploy lock and release records
    # logical secret → its AWSCURRENT version id when read; every task definition pins it (taskdefs.value_from),
    # so a new version registers new definitions and rolls the services that read it. A secret with no value
    # yet has no entry.
    secret_versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.load_balancer_dns}"
