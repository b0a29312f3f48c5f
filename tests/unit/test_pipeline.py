"""The release skeleton: lock held throughout, records written, rollback only after services changed."""

from __future__ import annotations

import pytest

from pmis_deploy.errors import DeployError, LockHeldError, ReleaseFailed
from pmis_deploy.pipeline import Options, Run, Step, execute, exit_code, render_summary
from pmis_deploy.release import LockInfo, ReleaseRecord, ReleaseStatus


class MemoryBackend:
    """An in-memory StateBackend with the same create-if-absent lock semantics as S3."""

    location = "memory://test"

    def __init__(self) -> None:
        self.lock: LockInfo | None = None
        self.records: dict[str, ReleaseRecord] = {}
        self.writes: list[tuple[str, ReleaseStatus]] = []

    def create_lock(self, info: LockInfo) -> bool:
        if self.lock is not None:
            return False
        self.lock = info
        return True

    def read_lock(self) -> LockInfo | None:
        return self.lock

    def delete_lock(self) -> None:
        self.lock = None

    def put_release(self, record: ReleaseRecord) -> None:
        self.records[record.id] = record.model_copy(deep=True)
        self.writes.append((record.id, record.status))

    def get_release(self, release_id: str) -> ReleaseRecord | None:
        return self.records.get(release_id)

    def list_releases(self, limit: int = 20) -> list[ReleaseRecord]:
        return [self.records[k] for k in sorted(self.records, reverse=True)][:limit]


def record(rid: str = "20260101T000000Z-abc", status: ReleaseStatus = ReleaseStatus.in_progress) -> ReleaseRecord:
    return ReleaseRecord(id=rid, environment="staging", cloud="aws", git_sha="a" * 40, tag="a" * 12, status=status)


@pytest.fixture
def backend() -> MemoryBackend:
    b = MemoryBackend()
    good = record("20250101T000000Z-old", ReleaseStatus.succeeded)
    b.records[good.id] = good
    return b


def test_success_holds_the_lock_and_records_in_progress_then_succeeded(backend: MemoryBackend) -> None:
    seen_lock: list[LockInfo | None] = []

    def work(run: Run) -> None:
        seen_lock.append(backend.read_lock())
        run.change("api: task definition pmis-staging-api:2")

    result = execute(Run(record()), [Step("work", work)], backend=backend)
    assert seen_lock[0] is not None and seen_lock[0].release_id == result.id
    assert backend.lock is None
    assert backend.writes == [(result.id, ReleaseStatus.in_progress), (result.id, ReleaseStatus.succeeded)]
    assert result.previous_release == "20250101T000000Z-old"
    assert set(result.timings) == {"work", "total"}
    assert "api: task definition" in render_summary(result)


def test_failure_before_services_changed_does_not_roll_back(backend: MemoryBackend) -> None:
    rolled: list[str] = []

    def migrate(run: Run) -> None:
        raise DeployError("migration task exited 3")

    def roll_out(run: Run) -> None:  # never reached
        run.services_changed()

    with pytest.raises(ReleaseFailed, match="failed: migration task exited 3") as err:
        execute(
            Run(record()),
            [Step("migrate", migrate), Step("roll out", roll_out)],
            backend=backend,
            rollback=lambda r, p: rolled.append("x"),
        )
    assert rolled == []
    assert "nothing running was changed" in (err.value.hint or "")
    final = backend.records["20260101T000000Z-abc"]
    assert final.status is ReleaseStatus.failed and "roll out" not in final.timings
    assert backend.lock is None


def test_failure_after_services_changed_rolls_back_to_previous_good(backend: MemoryBackend) -> None:
    targets: list[str | None] = []

    def roll_out(run: Run) -> None:
        run.services_changed()
        raise DeployError("api deployment FAILED: circuit breaker rolled back")

    with pytest.raises(ReleaseFailed, match="rolled_back"):
        execute(
            Run(record()),
            [Step("roll out", roll_out)],
            backend=backend,
            rollback=lambda r, prev: targets.append(prev.id if prev else None),
        )
    assert targets == ["20250101T000000Z-old"]
    final = backend.records["20260101T000000Z-abc"]
    assert final.status is ReleaseStatus.rolled_back
    assert final.rolled_back_to == "20250101T000000Z-old"
    assert "rollback" in final.timings


def test_a_failing_rollback_is_reported_not_hidden(backend: MemoryBackend) -> None:
    def roll_out(run: Run) -> None:
        run.services_changed()
        raise DeployError("health check failed")

    def broken_rollback(r: ReleaseRecord, p: ReleaseRecord | None) -> None:
        raise DeployError("web rollback timed out")

    with pytest.raises(ReleaseFailed) as err:
        execute(Run(record()), [Step("roll out", roll_out)], backend=backend, rollback=broken_rollback)
    final = backend.records["20260101T000000Z-abc"]
    assert final.status is ReleaseStatus.failed
    assert "ALSO failed: web rollback timed out" in (final.error or "")
    assert "mixed versions" in (err.value.hint or "")


def test_lock_held_refuses_before_any_step(backend: MemoryBackend) -> None:
    backend.lock = LockInfo(holder="bob@ci")
    ran: list[str] = []
    with pytest.raises(LockHeldError, match="bob@ci"):
        execute(Run(record()), [Step("x", lambda run: ran.append("x"))], backend=backend)
    assert ran == [] and "20260101T000000Z-abc" not in backend.records
    assert backend.lock.holder == "bob@ci"


def test_dry_run_takes_no_lock_and_writes_no_record(backend: MemoryBackend) -> None:
    def plan(run: Run) -> None:
        assert run.dry_run
        assert backend.lock is None
        run.change("would register pmis-staging-api")

    result = execute(Run(record(), dry_run=True), [Step("plan", plan)], backend=backend)
    assert backend.writes == []
    assert exit_code(result, dry_run=True) == 2
    assert "would register" in render_summary(result, dry_run=True)
    assert exit_code(record(), dry_run=True) == 0
    assert "no changes" in render_summary(record(), dry_run=True)


def test_rollback_release_uses_its_own_success_status(backend: MemoryBackend) -> None:
    result = execute(
        Run(record()), [], backend=backend, options=Options(purpose="rollback", success_status=ReleaseStatus.rollback)
    )
    assert result.status is ReleaseStatus.rollback and result.good


def test_the_deferred_image_scan_runs_on_pushed_digests_before_any_service_change(
    backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmis_deploy import gate
    from pmis_deploy.pipeline import gate_step, image_scan_step

    scanned: list[dict[str, str]] = []

    def fake_gate(loaded: object, *, skip_reason: str | None, defer_image_scan: bool) -> gate.GateResult:
        assert defer_image_scan
        return gate.GateResult(passed=True, outcomes={"secrets": "PASS"}, deferred=("images",))

    def fake_scan(loaded: object, images: dict[str, str]) -> gate.GateResult:
        scanned.append(images)
        return gate.GateResult(passed=False, outcomes={"images": "FAIL"})

    monkeypatch.setattr(gate, "run_gate", fake_gate)
    monkeypatch.setattr(gate, "scan_images", fake_scan)

    from types import SimpleNamespace

    loaded = SimpleNamespace(settings=SimpleNamespace(deploy=SimpleNamespace(gate=["all"])))
    pushed = {"api": "r/api@sha256:" + "a" * 64}
    touched: list[str] = []
    steps = [
        gate_step(loaded, None),  # type: ignore[arg-type]
        image_scan_step(loaded, lambda: pushed),  # type: ignore[arg-type]
        Step("roll out", lambda run: touched.append("x")),
    ]
    with pytest.raises(ReleaseFailed, match=r"images \(FAIL\)"):
        execute(Run(record()), steps, backend=backend)
    assert scanned == [pushed] and touched == []
    final = backend.records["20260101T000000Z-abc"]
    assert final.status is ReleaseStatus.failed and final.checks == {"secrets": "PASS", "images": "FAIL"}
