"""RDS PostgreSQL 15: a DB subnet group on the private subnets and one instance, converged.

The master password is managed by RDS in Secrets Manager (ManageMasterUserPassword=True; RDS rotates
it, every 7 days by default): it is never generated, seen or printed here, and no app uses it. Only the
migration task gets it (ECS JSON-key references to this secret, resolved at its start), to create the
apps' own role (settings.aws.database.app_user) that database-url names (secrets.py, taskdefs.py).
Private, encrypted, gp3, 30-day backups, log export; multi-AZ and deletion protection where configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming, rules
from pmis_deploy.aws.datastore import describe_when_available, subnet_group_changes
from pmis_deploy.aws.plan import Change, create_once, describe_one
from pmis_deploy.errors import NotFound

if TYPE_CHECKING:
    from pmis_deploy.aws.network import Network
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

LOG_EXPORTS = ["postgresql", "upgrade"]


@dataclass(frozen=True)
class Database:
    identifier: str
    address: str
    port: int
    db_name: str
    master_secret_arn: str
    # The customer-managed KMS key of the master secret (the execution role must decrypt with it); None
    # for the default aws/secretsmanager key, which needs no grant.
    master_secret_kms_key: str | None = None


def subnet_group_request(settings: Settings, subnet_ids: list[str]) -> dict[str, Any]:
    return {
        "DBSubnetGroupName": naming.db_subnet_group(settings),
        "DBSubnetGroupDescription": f"{settings.name()} private subnets",
        "SubnetIds": sorted(subnet_ids),
        "Tags": _tags(settings),
    }


def instance_request(settings: Settings, security_group_id: str) -> dict[str, Any]:
    db = settings.aws.database
    return {
        "DBInstanceIdentifier": naming.db_instance(settings),
        "DBInstanceClass": db.instance_class,
        "Engine": "postgres",
        "EngineVersion": db.engine_version,
        "DBName": db.db_name,
        "MasterUsername": db.master_username,
        "ManageMasterUserPassword": True,
        "AllocatedStorage": db.allocated_storage_gb,
        "MaxAllocatedStorage": db.max_allocated_storage_gb,
        "StorageType": "gp3",
        "StorageEncrypted": True,
        "PubliclyAccessible": False,
        "DBSubnetGroupName": naming.db_subnet_group(settings),
        "VpcSecurityGroupIds": [security_group_id],
        "BackupRetentionPeriod": db.backup_retention_days,
        "MultiAZ": db.multi_az,
        "DeletionProtection": db.deletion_protection,
        "EnableCloudwatchLogsExports": list(LOG_EXPORTS),
        "CopyTagsToSnapshot": True,
        "AutoMinorVersionUpgrade": True,
        "Tags": _tags(settings),
    }


def instance_drift(settings: Settings, security_group_id: str, current: dict[str, Any]) -> dict[str, Any]:
    """ModifyDBInstance arguments that bring `current` (a described instance) to the settings."""
    want = instance_request(settings, security_group_id)
    changes: dict[str, Any] = {}
    for key in ("DBInstanceClass", "MultiAZ", "DeletionProtection", "BackupRetentionPeriod", "MaxAllocatedStorage"):
        if current.get(key) != want[key]:
            changes[key] = want[key]
    if int(current.get("AllocatedStorage", 0)) < want["AllocatedStorage"]:
        changes["AllocatedStorage"] = want["AllocatedStorage"]  # storage only grows
    if current.get("PubliclyAccessible") is not False:  # True, or unknown: say it explicitly
        changes["PubliclyAccessible"] = False
    if (current.get("DBSubnetGroup") or {}).get("DBSubnetGroupName") != want["DBSubnetGroupName"]:
        changes["DBSubnetGroupName"] = want["DBSubnetGroupName"]
    if not (current.get("MasterUserSecret") or {}).get("SecretArn"):
        changes["ManageMasterUserPassword"] = True  # e.g. created the runbook's way, with a lost password
    groups = sorted(g["VpcSecurityGroupId"] for g in current.get("VpcSecurityGroups", []))
    if groups != [security_group_id]:
        changes["VpcSecurityGroupIds"] = [security_group_id]
    exports = set(current.get("EnabledCloudwatchLogsExports") or [])
    if exports != set(LOG_EXPORTS):
        changes["CloudwatchLogsExportConfiguration"] = {
            "EnableLogTypes": sorted(set(LOG_EXPORTS) - exports),
            "DisableLogTypes": sorted(exports - set(LOG_EXPORTS)),
        }
    return changes


def _tags(settings: Settings) -> list[dict[str, str]]:
    return [{"Key": "Project", "Value": settings.project}, {"Key": "Environment", "Value": settings.environment.value}]


# ---------------------------------------------------------------------------------------------- reads


def describe_subnet_group(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    return describe_one(
        aws.client("rds").describe_db_subnet_groups,
        "DBSubnetGroups",
        "DBSubnetGroupNotFoundFault",
        DBSubnetGroupName=naming.db_subnet_group(settings),
    )


def describe_instance(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    return describe_one(
        aws.client("rds").describe_db_instances,
        "DBInstances",
        "DBInstanceNotFound",
        DBInstanceIdentifier=naming.db_instance(settings),
    )


# ---------------------------------------------------------------------------------------------- plan


def plan(aws: AwsClients, settings: Settings, network: Network) -> list[Change]:
    rds = aws.client("rds")
    subnets = list(network.private_subnet_ids)
    group_request = subnet_group_request(settings, subnets)
    update = {k: v for k, v in group_request.items() if k != "Tags"}
    changes = subnet_group_changes(
        f"DB subnet group {group_request['DBSubnetGroupName']}",
        describe_subnet_group(aws, settings),
        subnets,
        lambda: rds.create_db_subnet_group(**group_request),
        lambda: rds.modify_db_subnet_group(**update),
    )
    sg = network.security_groups["rds"]
    current = describe_instance(aws, settings)
    identifier = naming.db_instance(settings)
    if current is None:
        request = instance_request(settings, sg)
        db = settings.aws.database
        detail = (
            f"PostgreSQL {db.engine_version}, {db.instance_class}, {db.allocated_storage_gb} GB gp3 encrypted, "
            f"private, multi-AZ {db.multi_az}, deletion protection {db.deletion_protection}, "
            f"backups {db.backup_retention_days} d, password managed by RDS"
        )

        rules.check_db_instance_request(request)
        create = partial(create_once, rds.create_db_instance, "DBInstanceAlreadyExists", **request)
        changes.append(Change(f"RDS instance {identifier}", "create", detail, create))
        return changes
    if not current.get("StorageEncrypted"):
        from pmis_deploy.console import warn

        warn(f"RDS instance {identifier} is not encrypted; encryption cannot be enabled in place (restore a snapshot)")
    drift = instance_drift(settings, sg, current)
    if drift:
        apply_now = not settings.is_production
        changes.append(
            Change(
                f"RDS instance {identifier}",
                "update",
                ", ".join(f"{k}={v}" for k, v in drift.items())
                + ("" if apply_now else " (at the next maintenance window)"),
                lambda: rds.modify_db_instance(DBInstanceIdentifier=identifier, ApplyImmediately=apply_now, **drift),
            )
        )
    return changes


# ---------------------------------------------------------------------------------------------- read


def read(aws: AwsClients, settings: Settings, *, wait: bool = True) -> Database | None:
    """The instance's endpoint and master secret, once it is available (None if it does not exist)."""
    identifier = naming.db_instance(settings)
    current = describe_when_available(
        partial(describe_instance, aws, settings),
        "DBInstanceStatus",
        aws.client("rds"),
        "db_instance_available",
        f"RDS instance {identifier}",
        settings,
        wait=wait,
        DBInstanceIdentifier=identifier,
    )
    if current is None:
        return None
    endpoint = current.get("Endpoint") or {}
    secret = current.get("MasterUserSecret") or {}
    if not endpoint.get("Address") or not secret.get("SecretArn"):
        raise NotFound(
            f"RDS instance {identifier} has no endpoint or RDS-managed master secret yet",
            hint="wait until it is available; if it was created with a plain password, enable "
            "ManageMasterUserPassword on it (modify-db-instance --manage-master-user-password)",
        )
    return Database(
        identifier,
        str(endpoint["Address"]),
        int(endpoint.get("Port", 5432)),
        str(current.get("DBName") or settings.aws.database.db_name),
        str(secret["SecretArn"]),
        customer_key(aws, secret.get("KmsKeyId")),
    )


def customer_key(aws: AwsClients, key_id: str | None) -> str | None:
    """The ARN of `key_id` when it is a customer-managed KMS key; None for an AWS-managed one or none."""
    if not key_id:
        return None
    metadata = aws.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    return str(metadata["Arn"]) if metadata.get("KeyManager") == "CUSTOMER" else None
