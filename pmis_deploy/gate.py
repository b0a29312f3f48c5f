"""The pre-deployment gate: the checks named in settings.deploy.gate, run before every deploy.

result = run_gate(loaded)                         # runs the gate, shows the table on stderr
result = run_gate(loaded, skip_reason="hotfix")   # runs nothing; the deploy records the reason
if not result.passed: raise result.error()

The gate runs before the build, so it cannot scan the release's images. A deploy either passes them
(`images=`), or defers that scan (`defer_image_scan=True`, then result.deferred == ("images",)) and calls
`scan_images(loaded, {service: "<repo>@sha256:…"})` after pushing, before rolling out. Without either,
a gate that includes "images" reports it UNAVAILABLE and does not pass.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pmis_deploy.errors import GateFailed

if TYPE_CHECKING:
    from pmis_deploy.checks.report import Report
    from pmis_deploy.config import LoadedSettings
    from pmis_deploy.shell import Runner


@dataclass
class GateResult:
    """`outcomes` maps check name → PASS/FAIL/UNAVAILABLE/WAIVED (what the release record stores)."""

    passed: bool
    outcomes: dict[str, str] = field(default_factory=dict)
    skipped: bool = False
    skip_reason: str | None = None
    report: Report | None = None
    deferred: tuple[str, ...] = ()  # checks left for later (("images",): call scan_images after the push)

    def error(self) -> GateFailed:
        """The GateFailed to raise when the gate did not pass (names each failing check)."""
        failing = [
            f"{name} ({outcome})" for name, outcome in self.outcomes.items() if outcome not in ("PASS", "WAIVED")
        ]
        return GateFailed(
            "the pre-deployment checklist did not pass: " + ", ".join(failing),
            hint="fix the findings (run `inv checks.<name>` to see them), or add a waiver with a reason and an "
            "expiry date to [checks] waivers in config/<env>.toml; the deploy's skip option with a REASON skips "
            "the gate (recorded in the release)",
        )


def run_gate(
    loaded: LoadedSettings,
    *,
    skip_reason: str | None = None,
    runner: Runner | None = None,
    images: Mapping[str, str] | None = None,
    show: bool = True,
    defer_image_scan: bool = False,
) -> GateResult:
    """Run the environment's gate (settings.deploy.gate; "all" = the whole checklist).

    `images` (service → image by digest) lets the images check scan what this release built.
    With `skip_reason`, nothing runs: the result is skipped=True, passed=True, and the caller records why.
    """
    if skip_reason is not None:
        if not skip_reason.strip():
            raise GateFailed("skipping the checklist needs a reason", hint="--skip-checks 'why the gate is skipped'")
        return GateResult(passed=True, skipped=True, skip_reason=skip_reason.strip())
    from pmis_deploy.checks.outcome import CheckContext
    from pmis_deploy.checks.registry import resolve
    from pmis_deploy.checks.report import run_checks
    from pmis_deploy.shell import Runner

    settings = loaded.settings
    items = resolve(settings.deploy.gate, origin="deploy.gate")
    defer = defer_image_scan and not images
    ctx = CheckContext(loaded.root, settings, runner or Runner(), images=dict(images or {}), defer_image_scan=defer)
    report = run_checks(items, ctx)
    if show:
        report.render(stderr=True)
    deferred = ("images",) if defer and any(item.name == "images" for item in items) else ()
    return GateResult(passed=report.passed, outcomes=report.outcomes, report=report, deferred=deferred)


def accept_report(loaded: LoadedSettings, path: str | Path, *, now: dt.datetime | None = None) -> GateResult:
    """The gate's outcomes from a checklist report (`inv checks.all --json FILE`, `nox -s predeploy`)
    instead of running the checklist again: accepted only for this environment, this exact tree (commit
    and uncommitted diff), within deploy.checks_report_max_age_minutes, and covering every gate check.
    A deferred image scan stays deferred (the deploy scans the pushed digests)."""
    from pmis_deploy.checks.outcome import Outcome
    from pmis_deploy.checks.registry import resolve
    from pmis_deploy.checks.report import source_of

    settings = loaded.settings
    target = Path(path)
    env = settings.environment.value
    rerun = f"run the checklist again (nox -s predeploy -- --env {env} --json {target}) or drop --checks-report"
    try:
        report = json.loads(target.read_text())
        started = dt.datetime.fromisoformat(report["started_at"])
        if started.tzinfo is None:
            raise ValueError(f"started_at {report['started_at']!r} has no time zone")
        outcomes = {str(k): str(v) for k, v in report["outcomes"].items()}
    except FileNotFoundError:
        raise GateFailed(f"--checks-report {target}: no such file", hint=rerun) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GateFailed(f"--checks-report {target}: not a checklist report ({exc})", hint=rerun) from None
    if report.get("environment") != env:
        raise GateFailed(f"--checks-report {target} checked {report.get('environment')!r}, not {env!r}", hint=rerun)
    source = source_of(loaded.root)
    if source is None or report.get("source") != source:
        raise GateFailed(
            f"--checks-report {target} checked the tree {report.get('source')!r}; this tree is {source!r}",
            hint=rerun,
        )
    age = (now or dt.datetime.now(dt.UTC)) - started
    limit = dt.timedelta(minutes=settings.deploy.checks_report_max_age_minutes)
    if age > limit:
        raise GateFailed(
            f"--checks-report {target} is {int(age.total_seconds() // 60)} minutes old "
            f"(deploy.checks_report_max_age_minutes = {settings.deploy.checks_report_max_age_minutes})",
            hint=rerun,
        )
    names = [item.name for item in resolve(settings.deploy.gate, origin="deploy.gate")]
    missing = [name for name in names if name not in outcomes]
    if missing:
        raise GateFailed(f"--checks-report {target} lacks the gate checks: {', '.join(missing)}", hint=rerun)
    mine = {name: outcomes[name] for name in names}
    deferred = tuple(name for name in report.get("deferred") or () if name in mine)
    try:
        passed = all(Outcome(o).ok for o in mine.values())
    except ValueError as exc:
        raise GateFailed(f"--checks-report {target}: not a checklist report ({exc})", hint=rerun) from None
    return GateResult(passed=passed, outcomes=mine, deferred=deferred)


def scan_images(
    loaded: LoadedSettings,
    images: Mapping[str, str],
    *,
    runner: Runner | None = None,
    show: bool = True,
) -> GateResult:
    """checks.images on the release's pushed images (service → <repo>@sha256:…): the deferred part of the gate."""
    from pmis_deploy.checks.outcome import CheckContext
    from pmis_deploy.checks.registry import resolve
    from pmis_deploy.checks.report import run_checks
    from pmis_deploy.shell import Runner

    if not images:
        raise GateFailed("scan_images needs the release's images", hint="pass {service: '<repo>@sha256:…'}")
    ctx = CheckContext(loaded.root, loaded.settings, runner or Runner(), images=dict(images))
    report = run_checks(resolve(["images"]), ctx)
    if show:
        report.render(stderr=True)
    return GateResult(passed=report.passed, outcomes=report.outcomes, report=report)
