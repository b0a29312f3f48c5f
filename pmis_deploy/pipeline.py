"""The release skeleton shared by every cloud: lock → steps (timed) → record → unlock, with rollback.

    run = Run(record=ReleaseRecord(...), dry_run=False)
    steps = [gate_step(loaded, skip_reason), Step("build images", build), Step("roll out", roll_out), …]
    record = execute(run, steps, backend=backend, rollback=put_back, lock_wait=0)
    print(render_summary(record))

The cloud supplies the steps and the rollback hook; this module guarantees the rest:

- the environment's lock is held for the whole release and released on any exit (`release.locked`);
- the in-progress record is written first (so `status` shows a running release), the final record last;
- a failure before any step called `run.services_changed()` ends the release as `failed` (nothing to
  undo); a failure after it calls `rollback(record, previous_good)` and ends it as `rolled_back` (or
  `failed`, naming both errors, when the rollback itself fails);
- in dry-run there is no lock and no record: steps only read and append what they would do to
  `record.changes` (exit code 2 when anything would change, 0 otherwise).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pmis_deploy.errors import DeployError, ReleaseFailed
from pmis_deploy.redaction import redact
from pmis_deploy.release import LockInfo, ReleaseRecord, ReleaseStatus, StateBackend, last_good, locked, utcnow

if TYPE_CHECKING:
    from pmis_deploy.config import LoadedSettings


@dataclass
class Run:
    """The state of one release while its steps run."""

    record: ReleaseRecord
    dry_run: bool = False
    previous: ReleaseRecord | None = None  # the last good release before this one
    touched_services: bool = False
    deferred_checks: tuple[str, ...] = ()  # gate checks that need the pushed images (run by image_scan_step)

    def services_changed(self) -> None:
        """Called by a step just before it changes a running service: from now on failures roll back."""
        self.touched_services = True

    def change(self, text: str) -> None:
        """Note a change made (or, in dry-run, one that would be made)."""
        self.record.changes.append(text)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Run], None]


Rollback = Callable[[ReleaseRecord, "ReleaseRecord | None"], None]


@dataclass
class Options:
    lock_wait_seconds: float = 0.0
    stale_after: dt.timedelta | None = None
    purpose: str = "deploy"
    success_status: ReleaseStatus = ReleaseStatus.succeeded


def execute(
    run: Run,
    steps: Sequence[Step],
    *,
    backend: StateBackend | None,
    rollback: Rollback | None = None,
    options: Options | None = None,
) -> ReleaseRecord:
    """Run the release; returns the final record, or raises ReleaseFailed after recording the failure."""
    options = options or Options()
    if run.dry_run or backend is None:
        if backend is not None:
            run.previous = last_good(backend)
            run.record.previous_release = run.previous.id if run.previous else None
        _run_steps(run, steps)
        return run.record
    info = LockInfo(purpose=options.purpose, release_id=run.record.id)
    with locked(backend, info, wait_seconds=options.lock_wait_seconds, stale_after=options.stale_after):
        run.previous = last_good(backend)
        run.record.previous_release = run.previous.id if run.previous else None
        backend.put_release(run.record)
        started = time.monotonic()
        try:
            _run_steps(run, steps)
        except BaseException as exc:
            _fail(run, exc, rollback)
            run.record.timings["total"] = round(time.monotonic() - started, 3)
            backend.put_release(run.record)
            from pmis_deploy import console

            console.info(render_summary(run.record))  # what changed, what was undone, timings (stderr)
            hints = [exc.hint if isinstance(exc, DeployError) else None, _failure_hint(run.record)]
            raise ReleaseFailed(
                f"release {run.record.id} {run.record.status.value}: {run.record.error}",
                hint="; ".join(h for h in hints if h),
            ) from (exc if isinstance(exc, Exception) else None)
        run.record.status = options.success_status
        run.record.finished_at = utcnow()
        run.record.timings["total"] = round(time.monotonic() - started, 3)
        backend.put_release(run.record)
    return run.record


def _run_steps(run: Run, steps: Sequence[Step]) -> None:
    from pmis_deploy import console

    for step in steps:
        started = time.monotonic()
        try:
            with console.step(("[plan] " if run.dry_run else "") + step.name):
                step.run(run)
        finally:
            run.record.timings[step.name] = round(time.monotonic() - started, 3)


def _fail(run: Run, exc: BaseException, rollback: Rollback | None) -> None:
    from pmis_deploy import console

    record = run.record
    record.error = redact(exc.message if isinstance(exc, DeployError) else f"{type(exc).__name__}: {exc}")
    record.finished_at = utcnow()
    if not run.touched_services:
        record.status = ReleaseStatus.failed
        return
    if rollback is None:
        record.status = ReleaseStatus.failed
        record.error += " (services were changed and no rollback is available)"
        return
    console.warn(f"release failed after services changed; rolling every service back to {_name(run.previous)}")
    started = time.monotonic()
    try:
        rollback(record, run.previous)
    except Exception as rollback_exc:
        record.status = ReleaseStatus.failed
        why = rollback_exc.render() if isinstance(rollback_exc, DeployError) else repr(rollback_exc)
        record.error += f"; the automatic rollback ALSO failed: {redact(why)}"
    else:
        record.status = ReleaseStatus.rolled_back
        record.rolled_back_to = run.previous.id if run.previous else None
    finally:
        record.timings["rollback"] = round(time.monotonic() - started, 3)


def _name(record: ReleaseRecord | None) -> str:
    return record.id if record else "the state before this release (no earlier good release)"


def _failure_hint(record: ReleaseRecord) -> str:
    if record.status is ReleaseStatus.rolled_back:
        return f"every service is back on {_name_or_previous(record)}; fix the cause and deploy again"
    if record.status is ReleaseStatus.failed and "rollback ALSO failed" in (record.error or ""):
        return "services may be on mixed versions: run `inv status.<cloud>` and `inv rollback.<cloud> --to <id>`"
    return "nothing running was changed; fix the cause and deploy again"


def _name_or_previous(record: ReleaseRecord) -> str:
    return record.rolled_back_to or "the task definitions they ran before this release"


def gate_step(loaded: LoadedSettings, skip_reason: str | None, checks_report: str | None = None) -> Step:
    """The checklist gate (settings.deploy.gate); skipped only with a recorded reason. With
    `checks_report`, the outcomes of that report of this same tree stand in for running it again."""
    if checks_report and skip_reason is not None:
        from pmis_deploy.errors import ConfigError

        raise ConfigError(
            "--skip-checks and --checks-report contradict each other",
            hint="give --checks-report FILE to use a checklist report of this tree, or --skip-checks REASON",
        )

    def gate(run: Run) -> None:
        from pmis_deploy import console
        from pmis_deploy.gate import accept_report, run_gate

        names = ", ".join(loaded.settings.deploy.gate)
        if run.dry_run:
            how = " (skipped)" if skip_reason else f" (from {checks_report})" if checks_report else ""
            console.info(f"would run the checklist gate: {names}{how}")
            return
        if checks_report:
            result = accept_report(loaded, checks_report)
            run.record.gate_report = checks_report
            console.info(f"checklist gate: the outcomes of {checks_report} (this tree, this environment)")
        else:
            result = run_gate(loaded, skip_reason=skip_reason, defer_image_scan=True)
        run.record.checks = dict(result.outcomes)
        run.deferred_checks = tuple(result.deferred)
        if skip_reason is not None:
            run.record.gate_skipped = True
            run.record.gate_skip_reason = skip_reason
            console.warn(f"checklist gate SKIPPED ({names}): {skip_reason} — recorded in the release")
        if not result.passed:
            raise result.error()

    return Step("checklist gate", gate)


def image_scan_step(loaded: LoadedSettings, pushed: Callable[[], dict[str, str]]) -> Step:
    """The gate's deferred image scan, on the images this release pushed (service → repo@sha256:…);
    it runs after the push and before anything is registered or rolled out."""

    def scan(run: Run) -> None:
        if "images" in run.deferred_checks:
            scan_deferred(loaded, run, pushed())

    return Step("image scan", scan)


def scan_deferred(loaded: LoadedSettings, run: Run, images: dict[str, str]) -> None:
    """Scan `images` (service → repo@sha256:…) when the gate deferred its image scan; a finding stops
    the release before anything runs them. A deploy that pushes images in stages calls this per stage."""
    from pmis_deploy import console
    from pmis_deploy.gate import scan_images

    if "images" not in run.deferred_checks:
        return
    if run.dry_run:
        console.info("image scan (deferred gate check): would scan the pushed images")
        return
    if not images:
        console.info("image scan (deferred gate check): this release pushed no images, so there is nothing to scan")
        return
    result = scan_images(loaded, images)
    run.record.checks.update(result.outcomes)
    if not result.passed:
        raise result.error()


def exit_code(record: ReleaseRecord, *, dry_run: bool) -> int:
    """0 nothing changed / planned, 2 changes planned (dry-run)."""
    return 2 if dry_run and record.changes else 0


def render_summary(record: ReleaseRecord, *, dry_run: bool = False) -> str:
    """The end-of-release summary: status, what changed, URLs, durations."""
    lines = []
    if dry_run:
        lines.append(f"plan for {record.environment} ({record.cloud}), commit {record.git_sha[:12]}:")
        lines.extend(f"  ~ {c}" for c in record.changes)
        if not record.changes:
            lines.append("  no changes")
        return "\n".join(lines)
    lines.append(f"release {record.id}: {record.status.value} ({record.environment}, {record.cloud})")
    lines.append(f"  commit   {record.git_sha}  tag {record.tag}  by {record.actor}")
    if record.previous_release:
        lines.append(f"  previous {record.previous_release}")
    if record.gate_skipped:
        lines.append(f"  gate     SKIPPED: {record.gate_skip_reason}")
    elif record.checks:
        lines.append("  gate     " + ", ".join(f"{k}={v}" for k, v in record.checks.items()))
    lines.append("  changes  " + ("none (no changes)" if not record.changes else ""))
    lines.extend(f"    - {c}" for c in record.changes)
    for service, image in record.images.items():
        lines.append(f"  image    {service}: {image}")
    for service, ref in record.services.items():
        lines.append(f"  service  {service}: {ref}")
    for name, url in record.urls.items():
        lines.append(f"  url      {name}: {url}")
    if record.rolled_back_to:
        lines.append(f"  rolled back to {record.rolled_back_to}")
    if record.error:
        lines.append(f"  error    {record.error}")
    steps = [f"{k} {v:.1f}s" for k, v in record.timings.items() if k != "total"]
    if steps:
        lines.append("  timings  " + ", ".join(steps))
    if "total" in record.timings:
        lines.append(f"  total    {record.timings['total']:.1f}s")
    return redact("\n".join(lines))
