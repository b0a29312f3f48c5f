"""The S3 bucket holding deploy state (the lock and release records): versioned, private, encrypted.

Named `<project>-<env>-deploy-state-<account id>` (bucket names are global). The deploy flow's
StateBackend stores its objects in it; this module only converges the bucket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, error_code

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}
ABSENT = ("404", "NoSuchBucket", "NotFound")


def bucket_request(name: str, region: str) -> dict[str, Any]:
    request: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return request


def bucket_name(aws: AwsClients, settings: Settings) -> str:
    return naming.state_bucket(settings, aws.account_id())


def bucket_exists(aws: AwsClients, name: str) -> bool:
    """Whether the bucket exists (and is ours to read)."""
    try:
        aws.client("s3").head_bucket(Bucket=name)
    except Exception as exc:
        if error_code(exc) in ABSENT:
            return False
        raise
    return True


def _read(aws: AwsClients, call: str, name: str, missing: str) -> dict[str, Any] | None:
    try:
        return dict(getattr(aws.client("s3"), call)(Bucket=name))
    except Exception as exc:
        if error_code(exc) == missing:
            return None
        raise


def plan(aws: AwsClients, settings: Settings, name: str | None = None) -> list[Change]:
    s3 = aws.client("s3")
    name = name or bucket_name(aws, settings)
    changes: list[Change] = []
    exists = bucket_exists(aws, name)
    if not exists:

        def create() -> None:
            try:
                s3.create_bucket(**bucket_request(name, settings.aws.region))
            except Exception as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

        changes.append(Change(f"S3 bucket {name}", "create", "deploy lock and release records", create))
    versioning = s3.get_bucket_versioning(Bucket=name) if exists else {}
    if versioning.get("Status") != "Enabled":
        changes.append(
            Change(
                f"S3 bucket {name}",
                "update",
                "versioning on",
                lambda: s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"}),
            )
        )
    block = _read(aws, "get_public_access_block", name, "NoSuchPublicAccessBlockConfiguration") if exists else None
    if (block or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCK:
        changes.append(
            Change(
                f"S3 bucket {name}",
                "update",
                "block all public access",
                lambda: s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK),
            )
        )
    encryption = (
        _read(aws, "get_bucket_encryption", name, "ServerSideEncryptionConfigurationNotFoundError") if exists else None
    )
    rules = ((encryption or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules", [])
    if not any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules):
        changes.append(
            Change(
                f"S3 bucket {name}",
                "update",
                "default encryption (SSE-S3)",
                lambda: s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=ENCRYPTION),
            )
        )
    return changes
