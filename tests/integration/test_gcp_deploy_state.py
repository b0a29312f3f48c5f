"""The GCS state backend with the real gcloud against the fake: the lock is an atomic create
(ifGenerationMatch=0), a held lock names its holder, release records round-trip and list newest first."""

from __future__ import annotations

import pytest

from pmis_deploy.errors import LockHeldError
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.gcp.state import GcsStateBackend
from pmis_deploy.release import LockInfo, ReleaseRecord, acquire
from pmis_deploy.shell import Runner

pytestmark = [pytest.mark.integration, pytest.mark.gcloud, pytest.mark.timeout(600)]


def test_lock_and_records_in_gcs(gcloud_env: dict[str, str]) -> None:
    backend = GcsStateBackend(Gcloud("pmis-local", "us-central1", runner=Runner(echo=False)), "pmis-local-state-test")
    assert backend.ensure() is True
    assert backend.read_lock() is None
    assert backend.create_lock(LockInfo(holder="alice@ci", release_id="r1")) is True
    assert backend.create_lock(LockInfo(holder="bob@laptop", release_id="r2")) is False
    with pytest.raises(LockHeldError, match="alice@ci"):
        acquire(backend, LockInfo(holder="bob@laptop"))
    backend.delete_lock()
    assert backend.read_lock() is None

    for day in ("01", "03", "02"):
        backend.put_release(
            ReleaseRecord(id=f"202601{day}T000000Z-abc", environment="local", cloud="gcp", git_sha="a" * 40, tag=day)
        )
    assert [r.tag for r in backend.list_releases()] == ["03", "02", "01"]
    assert [r.tag for r in backend.list_releases(limit=1)] == ["03"]
    assert backend.get_release("20260102T000000Z-abc") is not None
    assert backend.get_release("nope") is None
