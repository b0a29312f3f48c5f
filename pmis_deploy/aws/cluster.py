"""The ECS cluster (Container Insights on) and the services' CloudWatch log group (with retention)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, error_code

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

INSIGHTS = {"name": "containerInsights", "value": "enabled"}


def cluster_request(settings: Settings) -> dict[str, Any]:
    return {
        "clusterName": naming.cluster(settings),
        "settings": [dict(INSIGHTS)],
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "tags": [
            {"key": "Project", "value": settings.project},
            {"key": "Environment", "value": settings.environment.value},
        ],
    }


def describe_cluster(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    found = aws.client("ecs").describe_clusters(clusters=[naming.cluster(settings)], include=["SETTINGS"])
    active = [c for c in found.get("clusters", []) if c.get("status") == "ACTIVE"]
    return dict(active[0]) if active else None


def describe_log_group(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    name = naming.log_group(settings)
    pages = aws.client("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
    return next((dict(g) for page in pages for g in page["logGroups"] if g["logGroupName"] == name), None)


def plan(aws: AwsClients, settings: Settings) -> list[Change]:
    ecs, logs = aws.client("ecs"), aws.client("logs")
    changes: list[Change] = []
    name = naming.cluster(settings)
    cluster = describe_cluster(aws, settings)
    if cluster is None:
        changes.append(
            Change(
                f"ECS cluster {name}",
                "create",
                "Fargate, Container Insights",
                lambda: ecs.create_cluster(**cluster_request(settings)),
            )
        )
    elif INSIGHTS not in cluster.get("settings", []):
        changes.append(
            Change(
                f"ECS cluster {name}",
                "update",
                "Container Insights on",
                lambda: ecs.update_cluster_settings(cluster=name, settings=[dict(INSIGHTS)]),
            )
        )
    group_name = naming.log_group(settings)
    retention = settings.aws.log_retention_days
    group = describe_log_group(aws, settings)
    if group is None:

        def create_group() -> None:
            try:
                logs.create_log_group(logGroupName=group_name, tags={"Project": settings.project})
            except Exception as exc:
                if error_code(exc) != "ResourceAlreadyExistsException":
                    raise
            logs.put_retention_policy(logGroupName=group_name, retentionInDays=retention)

        changes.append(Change(f"log group {group_name}", "create", f"retention {retention} days", create_group))
    elif group.get("retentionInDays") != retention:
        changes.append(
            Change(
                f"log group {group_name}",
                "update",
                f"retention {retention} days",
                lambda: logs.put_retention_policy(logGroupName=group_name, retentionInDays=retention),
            )
        )
    return changes


def read(aws: AwsClients, settings: Settings) -> tuple[str, str]:
    """(cluster name, cluster ARN) — a placeholder ARN if it does not exist yet."""
    cluster = describe_cluster(aws, settings)
    name = naming.cluster(settings)
    return name, str(cluster["clusterArn"]) if cluster else f"<new cluster {name}>"
