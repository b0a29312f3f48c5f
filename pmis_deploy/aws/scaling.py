"""Application Auto Scaling of the api service: a scalable target (min/max) and a CPU target-tracking policy.

The scalable target is `service/<cluster>/<api service>`, which needs the ECS service to exist — it is
created by the deploy flow. Provision registers scaling only when the service exists; the deploy flow
calls `ensure_autoscaling(aws, settings, infra)` after creating the services.
(Real AWS rejects a policy on an unregistered target; moto does not, so we check ourselves.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, apply

if TYPE_CHECKING:
    from pmis_deploy.aws.infra import AwsInfra
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

DIMENSION = "ecs:service:DesiredCount"
DEFERRED = "deferred until the api service exists (the deploy flow registers it after creating the service)"


def resource_id(settings: Settings, cluster: str) -> str:
    return f"service/{cluster}/{naming.ecs_service(settings, 'api')}"


def scalable_target_request(settings: Settings, cluster: str) -> dict[str, Any]:
    scaling = settings.aws.autoscaling
    return {
        "ServiceNamespace": "ecs",
        "ResourceId": resource_id(settings, cluster),
        "ScalableDimension": DIMENSION,
        "MinCapacity": scaling.min_count,
        "MaxCapacity": scaling.max_count,
    }


def policy_request(settings: Settings, cluster: str) -> dict[str, Any]:
    return {
        "PolicyName": settings.name("api-cpu"),
        "ServiceNamespace": "ecs",
        "ResourceId": resource_id(settings, cluster),
        "ScalableDimension": DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(settings.aws.autoscaling.cpu_target_percent),
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }


def api_service_exists(aws: AwsClients, settings: Settings, cluster: str) -> bool:
    found = aws.client("ecs").describe_services(cluster=cluster, services=[naming.ecs_service(settings, "api")])
    return any(s.get("status") == "ACTIVE" for s in found.get("services", []))


def plan(aws: AwsClients, settings: Settings, cluster: str) -> list[Change]:
    """Changes that converge api autoscaling (assumes the api service exists)."""
    aas = aws.client("application-autoscaling")
    target = scalable_target_request(settings, cluster)
    policy = policy_request(settings, cluster)
    changes: list[Change] = []
    found = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[target["ResourceId"]], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    if not found or (found[0]["MinCapacity"], found[0]["MaxCapacity"]) != (
        target["MinCapacity"],
        target["MaxCapacity"],
    ):
        changes.append(
            Change(
                f"scalable target {target['ResourceId']}",
                "update" if found else "create",
                f"min {target['MinCapacity']} max {target['MaxCapacity']}",
                lambda: aas.register_scalable_target(**target),
            )
        )
    policies = aas.describe_scaling_policies(
        ServiceNamespace="ecs",
        ResourceId=target["ResourceId"],
        ScalableDimension=DIMENSION,
        PolicyNames=[policy["PolicyName"]],
    )["ScalingPolicies"]
    wanted = policy["TargetTrackingScalingPolicyConfiguration"]
    current = policies[0].get("TargetTrackingScalingPolicyConfiguration", {}) if policies else None
    if current is None or {k: current.get(k) for k in wanted} != wanted:
        changes.append(
            Change(
                f"scaling policy {policy['PolicyName']}",
                "update" if policies else "create",
                f"CPU target {wanted['TargetValue']:g}%",
                lambda: aas.put_scaling_policy(**policy),
            )
        )
    return changes


def ensure_autoscaling(aws: AwsClients, settings: Settings, infra: AwsInfra) -> list[Change]:
    """Converge api autoscaling once the api service exists (the deploy flow calls this after creating it).

    Returns the changes (applied unless `aws.dry_run`); empty when already converged or no service yet.
    """
    if not api_service_exists(aws, settings, infra.cluster_name):
        return []
    changes = plan(aws, settings, infra.cluster_name)
    if not aws.dry_run:
        apply(changes)
    return changes
