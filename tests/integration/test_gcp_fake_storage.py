"""The real `gcloud storage` against the fake: objects as a lock with generation preconditions."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.gcloud]

LOCK = "gs://pmis-state/locks/local.json"


def test_object_lock_with_generation_preconditions(gcloud_cli, gcp_fake, tmp_path):
    record = tmp_path / "lock.json"
    record.write_text(json.dumps({"owner": "alice", "release": "r1"}))
    gcloud_cli("storage", "buckets", "create", "gs://pmis-state", "--location=us-central1", fmt=None)

    gcloud_cli("storage", "cp", str(record), LOCK, "--if-generation-match=0", fmt=None)
    second = gcloud_cli("storage", "cp", str(record), LOCK, "--if-generation-match=0", fmt=None, check=False)
    assert second.rc == 1
    assert "pre-conditions you specified did not hold" in second.stderr

    described = gcloud_cli("storage", "objects", "describe", LOCK).data
    generation = described["generation"]
    assert described["size"] == record.stat().st_size
    assert json.loads(gcloud_cli("storage", "cat", LOCK, fmt=None).stdout) == {"owner": "alice", "release": "r1"}

    # Release only if it is still our lock: a wrong generation is refused, the right one deletes.
    stale = gcloud_cli("storage", "rm", LOCK, f"--if-generation-match={int(generation) + 1}", fmt=None, check=False)
    assert stale.rc == 1
    gcloud_cli("storage", "rm", LOCK, f"--if-generation-match={generation}", fmt=None)
    assert gcp_fake.table("storage.objects")["pmis-state"] == {}

    uploads = [r for r in gcp_fake.requests("storage") if r["path"].startswith("/upload/")]
    assert [(u["query"]["ifGenerationMatch"], u["status"]) for u in uploads] == [("0", 200), ("0", 412)]
