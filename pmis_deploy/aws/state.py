"""The deploy lock and release records of an environment, kept in S3 (never on the laptop).

    s3://pmis-<env>-deploy-state-<account>/<env>/lock.json                the lock (conditional create)
    s3://pmis-<env>-deploy-state-<account>/<env>/releases/<id>.json       one record per release

The lock is taken with `put_object(..., IfNoneMatch="*")`: S3 creates the object only if no object has
that key and answers 412 PreconditionFailed (or 409 ConditionalRequestConflict while a concurrent write
is in flight) otherwise, so exactly one of two racing deployers wins. It is released with
`delete_object(..., IfMatch=<our ETag>)`, so a deployer never deletes a lock someone else took after
breaking a stale one. Release ids start with a UTC timestamp, so key order is time order.

Writes to this bucket are the only mutating calls a no-op re-deploy makes ("no changes" means no
mutating call outside the state bucket).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import DeployError
from pmis_deploy.release import LockInfo, ReleaseRecord

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3StateBackend:
    """`release.StateBackend` on S3: one bucket per account and environment, one prefix per environment."""

    def __init__(self, aws: AwsClients, bucket: str, prefix: str) -> None:
        self.aws = aws
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}"
        self._lock_etag: str | None = None

    @classmethod
    def for_settings(cls, aws: AwsClients, settings: Settings) -> S3StateBackend:
        from pmis_deploy.aws import naming

        return cls(aws, naming.state_bucket(settings, aws.account_id()), settings.environment.value)

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    @property
    def lock_key(self) -> str:
        return f"{self.prefix}/lock.json"

    def release_key(self, release_id: str) -> str:
        return f"{self.prefix}/releases/{release_id}.json"

    # -- bucket ---------------------------------------------------------------------------------------
    def exists(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise
        return True

    def ensure(self) -> bool:
        """Create the bucket (private, versioned, encrypted) when missing. True when it was created."""
        if self.exists():
            return False
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        self.s3.create_bucket(**kwargs)
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        return True

    # -- lock -----------------------------------------------------------------------------------------
    def create_lock(self, info: LockInfo) -> bool:
        try:
            response = self.s3.put_object(
                Bucket=self.bucket,
                Key=self.lock_key,
                Body=info.model_dump_json().encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except Exception as exc:
            if _code(exc) in _CONFLICT_CODES:
                return False
            raise
        self._lock_etag = response.get("ETag")
        return True

    def read_lock(self) -> LockInfo | None:
        body = self._get(self.lock_key)
        return None if body is None else LockInfo.model_validate_json(body)

    def delete_lock(self) -> None:
        """Release our lock (only if it is still ours); without a lock of ours, break whatever is there."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.lock_key}
        if self._lock_etag:
            kwargs["IfMatch"] = self._lock_etag
        try:
            self.s3.delete_object(**kwargs)
        except Exception as exc:
            if _code(exc) in _CONFLICT_CODES:
                raise DeployError(
                    f"the deploy lock at {self.location} was taken over by someone else; left it in place",
                    hint="`inv releases.list` shows what ran; the lock was probably broken as stale",
                ) from None
            if _code(exc) not in _MISSING_CODES:
                raise
        finally:
            self._lock_etag = None

    # -- records --------------------------------------------------------------------------------------
    def put_release(self, record: ReleaseRecord) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.release_key(record.id),
            Body=record.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )

    def get_release(self, release_id: str) -> ReleaseRecord | None:
        body = self._get(self.release_key(release_id))
        return None if body is None else ReleaseRecord.model_validate_json(body)

    def list_releases(self, limit: int = 20) -> list[ReleaseRecord]:
        if not self.exists():
            return []
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/releases/"):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        records = []
        for key in sorted(keys, reverse=True)[:limit]:
            body = self._get(key)
            if body is not None:
                records.append(ReleaseRecord.model_validate_json(body))
        return records

    def _get(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except Exception as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise
