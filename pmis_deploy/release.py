"""Release records and the per-environment deploy lock, shared by the AWS and GCP flows.

Where they are stored is a `StateBackend` (S3 on AWS, GCS on GCP — never the laptop). This module is
the logic on top: atomic lock acquisition with --wait and stale-lock detection, release ids, history.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from pmis_deploy.errors import LockHeldError, NotFound


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReleaseStatus(StrEnum):
    in_progress = "in_progress"
    succeeded = "succeeded"
    failed = "failed"  # failed before any service changed
    rolled_back = "rolled_back"  # failed after services changed; every service was put back
    rollback = "rollback"  # a release made by `inv rollback.*`


GOOD = (ReleaseStatus.succeeded, ReleaseStatus.rollback)


class ReleaseRecord(BaseModel):
    """Everything needed to understand a release and to replay it (rollback replays a record)."""

    id: str
    environment: str
    cloud: Literal["aws", "gcp"]
    git_sha: str
    tag: str
    actor: str = Field(default_factory=lambda: actor())
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    status: ReleaseStatus = ReleaseStatus.in_progress
    images: dict[str, str] = Field(default_factory=dict)  # service → image reference pinned by digest
    services: dict[str, str] = Field(default_factory=dict)  # service → task-definition ARN / revision name
    secret_versions: dict[str, str] = Field(default_factory=dict)  # secret name → version id
    alembic_head: str | None = None
    checks: dict[str, str] = Field(default_factory=dict)  # checklist item → outcome
    gate_skipped: bool = False
    gate_skip_reason: str | None = None
    gate_report: str | None = None  # the checklist report whose outcomes the gate used (--checks-report)
    timings: dict[str, float] = Field(default_factory=dict)  # step → seconds
    changes: list[str] = Field(default_factory=list)
    previous_release: str | None = None
    rolled_back_to: str | None = None
    error: str | None = None
    urls: dict[str, str] = Field(default_factory=dict)

    @property
    def good(self) -> bool:
        return self.status in GOOD


class LockInfo(BaseModel):
    """Who holds an environment's deploy lock, and since when."""

    holder: str = Field(default_factory=lambda: actor())
    purpose: str = "deploy"
    release_id: str | None = None
    acquired_at: dt.datetime = Field(default_factory=utcnow)
    ci_run: str | None = Field(default_factory=lambda: ci_run())

    def describe(self) -> str:
        age = utcnow() - self.acquired_at
        where = f", CI run {self.ci_run}" if self.ci_run else ""
        return (
            f"{self.holder} ({self.purpose}{where}) since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({int(age.total_seconds() // 60)} min ago)"
        )


class StateBackend(Protocol):
    """Cloud storage of one environment's lock and release records."""

    location: str  # human-readable, e.g. s3://bucket/prefix

    def create_lock(self, info: LockInfo) -> bool:
        """Atomically create the lock; False when it already exists."""

    def read_lock(self) -> LockInfo | None: ...

    def delete_lock(self) -> None: ...

    def put_release(self, record: ReleaseRecord) -> None: ...

    def get_release(self, release_id: str) -> ReleaseRecord | None: ...

    def list_releases(self, limit: int = 20) -> list[ReleaseRecord]:
        """Newest first."""


def actor() -> str:
    user = os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or _safe_user()
    return f"{user}@{socket.gethostname()}"


def _safe_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def ci_run() -> str | None:
    if os.environ.get("GITHUB_RUN_ID"):
        repo = os.environ.get("GITHUB_REPOSITORY", "")
        return f"{repo}#{os.environ['GITHUB_RUN_ID']}".lstrip("#")
    return None


def new_release_id(git_sha: str, now: dt.datetime | None = None) -> str:
    return f"{(now or utcnow()):%Y%m%dT%H%M%SZ}-{git_sha[:8]}"


def acquire(
    backend: StateBackend,
    info: LockInfo,
    *,
    wait_seconds: float = 0.0,
    poll_seconds: float = 5.0,
    stale_after: dt.timedelta | None = None,
    on_wait: Callable[[LockInfo], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take the lock, or wait up to `wait_seconds` for it; refuse with who holds it and since when."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if backend.create_lock(info):
            return
        holder = backend.read_lock()
        if holder is None:  # released between our create and read: try again at once
            continue
        stale = stale_after is not None and utcnow() - holder.acquired_at > stale_after
        if time.monotonic() >= deadline:
            hint = "wait for it to finish, or pass --wait SECONDS to queue behind it"
            if stale:
                hint = (
                    "the lock looks stale (older than deploy.lock_stale_after_minutes); if no release is "
                    "running, break it with `inv releases.unlock --env <env> --force`"
                )
            raise LockHeldError(f"the deploy lock at {backend.location} is held by {holder.describe()}", hint=hint)
        if on_wait:
            on_wait(holder)
        sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


@contextmanager
def locked(
    backend: StateBackend, info: LockInfo, *, wait_seconds: float = 0.0, stale_after: dt.timedelta | None = None
) -> Iterator[LockInfo]:
    """Hold the environment's deploy lock for the duration of the block (released on any exit)."""
    acquire(backend, info, wait_seconds=wait_seconds, stale_after=stale_after)
    try:
        yield info
    finally:
        backend.delete_lock()


def last_good(backend: StateBackend, *, before: str | None = None) -> ReleaseRecord | None:
    """The newest good release (optionally older than release id `before`)."""
    for record in backend.list_releases(limit=100):
        if before is not None and record.id >= before:
            continue
        if record.good:
            return record
    return None


def resolve_target(backend: StateBackend, release_id: str | None, current: str | None) -> ReleaseRecord:
    """The release to roll back to: the named one, or the good one before the current release."""
    if release_id:
        record = backend.get_release(release_id)
        if record is None:
            known = ", ".join(r.id for r in backend.list_releases(limit=10)) or "none"
            raise NotFound(f"--to: no release {release_id!r} in {backend.location}", hint=f"known releases: {known}")
        return record
    target = last_good(backend, before=current)
    if target is None:
        raise NotFound(
            f"no earlier good release in {backend.location} to roll back to",
            hint="`inv releases.list` shows the history; name one with --to",
        )
    return target
