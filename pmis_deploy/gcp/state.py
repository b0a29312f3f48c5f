"""Where GCP releases keep their lock and records: a Cloud Storage bucket in the project itself.

    gs://<project>-pmis-<env>-deploy-state/lock.json            the deploy lock
    gs://<project>-pmis-<env>-deploy-state/releases/<id>.json   one release record each

Why GCS: object creation with `ifGenerationMatch=0` is an atomic "create if absent" (exactly a lock),
deletion with `ifGenerationMatch=<our generation>` never removes a lock someone else took since, the
bucket is regional, versioned by generation, IAM-controlled like the rest of the project, and one
`gcloud storage cat` reads many records at once. Secret Manager could do the lock (create is atomic)
but is priced and rate-limited as a secret store; Firestore needs its own database set-up.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.errors import Conflict, NotFound
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.release import LockInfo, ReleaseRecord

LOCK = "lock.json"
RELEASES = "releases/"


class GcsStateBackend:
    """A `pmis_deploy.release.StateBackend` on a GCS bucket, through gcloud storage."""

    def __init__(self, gcloud: Gcloud, bucket: str) -> None:
        self.gcloud = gcloud
        self.bucket = bucket
        self.location = f"gs://{bucket}"
        self._lock_generation: int | None = None

    def _url(self, key: str) -> str:
        return f"{self.location}/{key}"

    # --- the bucket ----------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.gcloud.maybe(g.bucket_describe(self.bucket)) is not None

    def ensure(self) -> bool:
        """Create the bucket if missing (before the first lock). True when it was created."""
        if self.exists():
            return False
        self.gcloud.run(g.bucket_create(self.bucket))
        return True

    # --- lock ----------------------------------------------------------------------------------
    def create_lock(self, info: LockInfo) -> bool:
        try:
            self._put(LOCK, info.model_dump_json(), if_generation_match=0)
        except Conflict:
            return False
        described = self.gcloud.maybe(g.object_describe(self._url(LOCK)))
        self._lock_generation = _generation(described)
        return True

    def read_lock(self) -> LockInfo | None:
        text = self._cat([self._url(LOCK)])
        return LockInfo.model_validate_json(text[0]) if text else None

    def delete_lock(self) -> None:
        """Remove the lock we hold (only that generation), or any lock when we hold none (--force)."""
        # already gone, or someone else's lock now (generation moved on): never delete theirs
        with contextlib.suppress(NotFound, Conflict):
            self.gcloud.run(g.object_delete(self._url(LOCK), if_generation_match=self._lock_generation))
        self._lock_generation = None

    # --- releases ------------------------------------------------------------------------------
    def put_release(self, record: ReleaseRecord) -> None:
        self._put(f"{RELEASES}{record.id}.json", record.model_dump_json())

    def get_release(self, release_id: str) -> ReleaseRecord | None:
        text = self._cat([self._url(f"{RELEASES}{release_id}.json")])
        return ReleaseRecord.model_validate_json(text[0]) if text else None

    def list_releases(self, limit: int = 20) -> list[ReleaseRecord]:
        """Newest first: one list, then one `cat` of the newest `limit` records."""
        listed = self.gcloud.maybe(g.objects_list(self._url(f"{RELEASES}*.json"))) or []
        names = sorted((o["name"] for o in listed if o.get("name", "").endswith(".json")), reverse=True)[:limit]
        if not names:
            return []
        records = [ReleaseRecord.model_validate_json(t) for t in self._cat([self._url(n) for n in names])]
        return sorted(records, key=lambda r: r.id, reverse=True)

    def _put(self, key: str, text: str, *, if_generation_match: int | None = None) -> None:
        """Upload one JSON document (one line, newline-terminated: `cat` of many stays parseable)."""
        with tempfile.NamedTemporaryFile("w", prefix="pmis-state-", suffix=".json") as fh:
            fh.write(text + "\n")
            fh.flush()
            self.gcloud.run(g.object_put(fh.name, self._url(key), if_generation_match=if_generation_match))

    def _cat(self, urls: list[str]) -> list[str]:
        """The contents of the objects (one JSON document per line each; absent → [])."""
        try:
            out = self.gcloud.run(g.object_cat(urls[0]) if len(urls) == 1 else _cat_many(urls))
        except NotFound:
            return []
        if out is None or out == []:
            return []
        if isinstance(out, dict):
            return [json.dumps(out)]
        # the objects' lines, then (with --format=json) gcloud's own empty resource list "[]"
        return [line for line in str(out).splitlines() if line.strip().startswith("{")]


def _cat_many(urls: list[str]) -> g.Cmd:
    cmd = g.object_cat(urls[0])
    return g.Cmd(cmd.path, tuple(urls), cmd.options)


def _generation(described: Any) -> int | None:
    if isinstance(described, dict):
        value = described.get("generation")
        return int(value) if value is not None else None
    return None
