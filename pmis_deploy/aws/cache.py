"""ElastiCache Redis 7: a cache subnet group on the private subnets and a 2-node replication group with
automatic failover, multi-AZ, transit and at-rest encryption and an AUTH token.

The token is generated within ElastiCache's character rules (rules.generate_auth_token) and stored in
Secrets Manager *before* the replication group is created, so it can never be lost. The primary endpoint
is read from NodeGroups[0].PrimaryEndpoint (a replication group has no top-level PrimaryEndpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming, rules, secrets
from pmis_deploy.aws.datastore import describe_when_available, subnet_group_changes
from pmis_deploy.aws.plan import Change, create_once, describe_one
from pmis_deploy.errors import NotFound

if TYPE_CHECKING:
    from pmis_deploy.aws.network import Network
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings


@dataclass(frozen=True)
class Cache:
    identifier: str
    address: str
    port: int


def subnet_group_request(settings: Settings, subnet_ids: list[str]) -> dict[str, Any]:
    return {
        "CacheSubnetGroupName": naming.cache_subnet_group(settings),
        "CacheSubnetGroupDescription": f"{settings.name()} private subnets",
        "SubnetIds": sorted(subnet_ids),
    }


def replication_group_request(settings: Settings, security_group_id: str, auth_token: str) -> dict[str, Any]:
    cache = settings.aws.cache
    return {
        "ReplicationGroupId": naming.replication_group(settings),
        "ReplicationGroupDescription": f"{settings.project} {settings.environment.value} Redis",
        "Engine": "redis",
        "EngineVersion": cache.engine_version,
        "CacheNodeType": cache.node_type,
        "NumCacheClusters": cache.num_cache_clusters,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
        "AuthToken": auth_token,
        "CacheSubnetGroupName": naming.cache_subnet_group(settings),
        "SecurityGroupIds": [security_group_id],
        "Port": naming.REDIS_PORT,
        "SnapshotRetentionLimit": 7,
        "Tags": [
            {"Key": "Project", "Value": settings.project},
            {"Key": "Environment", "Value": settings.environment.value},
        ],
    }


# ---------------------------------------------------------------------------------------------- reads


def describe_subnet_group(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    return describe_one(
        aws.client("elasticache").describe_cache_subnet_groups,
        "CacheSubnetGroups",
        "CacheSubnetGroupNotFoundFault",
        CacheSubnetGroupName=naming.cache_subnet_group(settings),
    )


def describe_replication_group(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    return describe_one(
        aws.client("elasticache").describe_replication_groups,
        "ReplicationGroups",
        "ReplicationGroupNotFoundFault",
        ReplicationGroupId=naming.replication_group(settings),
    )


def replication_group_drift(current: dict[str, Any]) -> list[str]:
    """What differs from the safe shape and cannot be changed here (moto lacks ModifyReplicationGroup)."""
    problems = []
    if current.get("AutomaticFailover") not in ("enabled", "enabling"):
        problems.append("automatic failover is off")
    if not current.get("TransitEncryptionEnabled"):
        problems.append("transit encryption is off (needs a new replication group)")
    if not current.get("AtRestEncryptionEnabled"):
        problems.append("at-rest encryption is off (needs a new replication group)")
    if not current.get("AuthTokenEnabled"):
        problems.append("AUTH is off")
    return problems


# ---------------------------------------------------------------------------------------------- plan


def plan(aws: AwsClients, settings: Settings, network: Network) -> list[Change]:
    ec = aws.client("elasticache")
    subnets = list(network.private_subnet_ids)
    group_request = subnet_group_request(settings, subnets)
    update = {k: v for k, v in group_request.items() if k != "CacheSubnetGroupDescription"}
    changes = subnet_group_changes(
        f"cache subnet group {group_request['CacheSubnetGroupName']}",
        describe_subnet_group(aws, settings),
        subnets,
        lambda: ec.create_cache_subnet_group(**group_request),
        lambda: ec.modify_cache_subnet_group(**update),
    )
    identifier = naming.replication_group(settings)
    current = describe_replication_group(aws, settings)
    if current is not None:
        problems = replication_group_drift(current)
        if problems:
            from pmis_deploy.console import warn

            warn(f"replication group {identifier}: " + "; ".join(problems))
        return changes
    sg = network.security_groups["redis"]
    cache = settings.aws.cache
    rules.check_replication_group_request(replication_group_request(settings, sg, rules.generate_auth_token()))

    def create() -> None:
        token = secrets.auth_token(aws, settings)  # a token stored by an earlier, interrupted run
        if token is None:
            token = rules.generate_auth_token()
            secrets.put_value(aws, settings, "redis-auth-token", token)
        request = replication_group_request(settings, sg, token)
        rules.check_replication_group_request(request)
        create_once(ec.create_replication_group, "ReplicationGroupAlreadyExists", **request)

    changes.append(
        Change(
            f"replication group {identifier}",
            "create",
            f"Redis {cache.engine_version}, {cache.num_cache_clusters} x {cache.node_type}, failover, multi-AZ, "
            "TLS + at-rest encryption, AUTH token stored in " + naming.secret(settings, "redis-auth-token"),
            create,
        )
    )
    return changes


# ---------------------------------------------------------------------------------------------- read


def read(aws: AwsClients, settings: Settings, *, wait: bool = True) -> Cache | None:
    """The primary endpoint once the group is available (None if it does not exist)."""
    identifier = naming.replication_group(settings)
    current = describe_when_available(
        partial(describe_replication_group, aws, settings),
        "Status",
        aws.client("elasticache"),
        "replication_group_available",
        f"replication group {identifier}",
        settings,
        wait=wait,
        ReplicationGroupId=identifier,
    )
    if current is None:
        return None
    groups = current.get("NodeGroups") or []
    primary = groups[0].get("PrimaryEndpoint") if groups else None
    if not primary or not primary.get("Address"):
        raise NotFound(f"replication group {identifier} has no primary endpoint yet", hint="wait and run again")
    return Cache(identifier, str(primary["Address"]), int(primary.get("Port", naming.REDIS_PORT)))
