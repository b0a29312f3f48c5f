"""Release history and the deploy lock of an environment, for either cloud (`inv releases.*`).

backend = state_backend(settings, "aws")        # S3 on AWS, GCS on GCP
rows = [release_row(r) for r in backend.list_releases(20)]
unlock(backend, settings, force=False)           # breaks a stale lock only; --force breaks any
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pmis_deploy.errors import ConfigError, LockHeldError
from pmis_deploy.release import LockInfo, utcnow

if TYPE_CHECKING:
    from pmis_deploy.config import Settings
    from pmis_deploy.release import StateBackend

Cloud = Literal["aws", "gcp"]


def state_backend(settings: Settings, cloud: str, *, dry_run: bool = False) -> StateBackend:
    """Where this environment's lock and records live on `cloud`."""
    if cloud == "aws":
        from pmis_deploy.aws.session import AwsClients
        from pmis_deploy.aws.state import S3StateBackend

        return S3StateBackend.for_settings(AwsClients.for_settings(settings, dry_run=dry_run), settings)
    if cloud == "gcp":
        from pmis_deploy.gcp.context import Ctx
        from pmis_deploy.gcp.state import GcsStateBackend

        ctx = Ctx.for_settings(settings, dry_run=dry_run, echo=False)
        return GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)
    raise ConfigError(f"--cloud: unknown cloud {cloud!r}", hint="use --cloud aws or --cloud gcp")


def unlock(backend: StateBackend, settings: Settings, *, force: bool) -> LockInfo | None:
    """Break the environment's deploy lock: only a stale one (older than deploy.lock_stale_after_minutes)
    unless `force`. Returns the lock that was removed (None when there was none)."""
    holder = backend.read_lock()
    if holder is None:
        return None
    stale_after = dt.timedelta(minutes=settings.deploy.lock_stale_after_minutes)
    if not force and utcnow() - holder.acquired_at <= stale_after:
        raise LockHeldError(
            f"the deploy lock at {backend.location} is held by {holder.describe()} and is not stale",
            hint="if you are sure no release is running (check the CI run / ask the holder), pass --force",
        )
    backend.delete_lock()  # this backend holds no lock of its own, so it removes whatever is there
    return holder
