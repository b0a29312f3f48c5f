"""The deploy lock and release records in S3 (moto server over HTTP): contention, --wait, ownership."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pmis_deploy.aws.session import AwsClients
from pmis_deploy.aws.state import S3StateBackend
from pmis_deploy.errors import DeployError, LockHeldError
from pmis_deploy.release import (
    LockInfo,
    ReleaseRecord,
    ReleaseStatus,
    acquire,
    last_good,
    locked,
    new_release_id,
    utcnow,
)

pytestmark = pytest.mark.integration


def backend(endpoint: str, env: str = "staging") -> S3StateBackend:
    aws = AwsClients(region="us-east-1", endpoint_url=endpoint)
    return S3StateBackend(aws, "pmis-staging-deploy-state-123456789012", env)


@pytest.fixture
def state(aws_endpoint: str) -> S3StateBackend:
    b = backend(aws_endpoint)
    assert b.ensure() is True
    assert b.ensure() is False  # converged: second call creates nothing
    return b


def test_second_deployer_is_refused_with_who_and_when(state: S3StateBackend, aws_endpoint: str) -> None:
    other = backend(aws_endpoint)
    with locked(state, LockInfo(holder="alice@laptop", release_id="r1")):
        with pytest.raises(LockHeldError) as err:
            acquire(other, LockInfo(holder="ci@runner"))
        assert "alice@laptop" in err.value.message
        assert "since" in err.value.message
        assert "--wait" in (err.value.hint or "")
    assert state.read_lock() is None  # released on exit
    acquire(other, LockInfo(holder="ci@runner"))
    assert state.read_lock().holder == "ci@runner"  # type: ignore[union-attr]


def test_racing_deployers_exactly_one_wins(state: S3StateBackend, aws_endpoint: str) -> None:
    contenders = [backend(aws_endpoint) for _ in range(6)]
    barrier = threading.Barrier(len(contenders))

    def attempt(i: int) -> bool:
        barrier.wait()
        return contenders[i].create_lock(LockInfo(holder=f"deployer-{i}"))

    with ThreadPoolExecutor(len(contenders)) as pool:
        results = list(pool.map(attempt, range(len(contenders))))
    assert results.count(True) == 1
    winner = results.index(True)
    assert state.read_lock().holder == f"deployer-{winner}"  # type: ignore[union-attr]


def test_wait_queues_behind_the_holder(state: S3StateBackend, aws_endpoint: str) -> None:
    first = backend(aws_endpoint)
    acquire(first, LockInfo(holder="first"))
    waited: list[str] = []

    def on_wait(holder: LockInfo) -> None:
        waited.append(holder.holder)
        if len(waited) == 1:  # the holder finishes while we wait
            threading.Timer(0.2, first.delete_lock).start()

    acquire(backend(aws_endpoint), LockInfo(holder="second"), wait_seconds=30, poll_seconds=0.1, on_wait=on_wait)
    assert waited[0] == "first"
    assert state.read_lock().holder == "second"  # type: ignore[union-attr]


def test_stale_lock_hint_and_forced_break(state: S3StateBackend, aws_endpoint: str) -> None:
    old = LockInfo(holder="gone", acquired_at=utcnow() - dt.timedelta(hours=5))
    assert backend(aws_endpoint).create_lock(old)
    with pytest.raises(LockHeldError) as err:
        acquire(state, LockInfo(holder="me"), stale_after=dt.timedelta(minutes=120))
    assert "releases.unlock" in (err.value.hint or "")
    backend(aws_endpoint).delete_lock()  # a backend that holds no lock breaks whatever is there (--force)
    assert state.read_lock() is None


def test_a_deployer_never_deletes_a_lock_it_no_longer_owns(state: S3StateBackend, aws_endpoint: str) -> None:
    mine = backend(aws_endpoint)
    assert mine.create_lock(LockInfo(holder="slow"))
    backend(aws_endpoint).delete_lock()  # someone breaks it as stale …
    assert backend(aws_endpoint).create_lock(LockInfo(holder="new"))  # … and takes it
    with pytest.raises(DeployError, match="taken over"):
        mine.delete_lock()
    assert state.read_lock().holder == "new"  # type: ignore[union-attr]


def test_release_records_round_trip_newest_first(state: S3StateBackend) -> None:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    statuses = [ReleaseStatus.succeeded, ReleaseStatus.succeeded, ReleaseStatus.failed]
    ids = []
    for n, status in enumerate(statuses):
        rid = new_release_id(f"{n:040d}", base + dt.timedelta(minutes=n))
        ids.append(rid)
        state.put_release(
            ReleaseRecord(id=rid, environment="staging", cloud="aws", git_sha=f"{n:040d}", tag="t", status=status)
        )
    listed = state.list_releases()
    assert [r.id for r in listed] == list(reversed(ids))
    assert state.get_release(ids[0]).status is ReleaseStatus.succeeded  # type: ignore[union-attr]
    assert state.get_release("nope") is None
    assert last_good(state).id == ids[1]  # type: ignore[union-attr]
    assert state.list_releases(limit=1)[0].id == ids[2]


def test_missing_bucket_lists_nothing(aws_endpoint: str) -> None:
    assert backend(aws_endpoint, "other").list_releases() == []
