"""Run checks concurrently, apply waivers, and render the result as a table or JSON."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy.checks.outcome import CheckContext, CheckResult, Outcome, Verdict
from pmis_deploy.checks.registry import Item
from pmis_deploy.checks.settings import Waiver
from pmis_deploy.errors import DeployError, ToolMissingError

if TYPE_CHECKING:
    from pmis_deploy.config import LoadedSettings
    from pmis_deploy.shell import Runner

MAX_WORKERS = 4  # the checks mostly wait on subprocesses; more would only contend for the CPU


@dataclass
class Report:
    """The results of one run of the checklist, in checklist order."""

    environment: str
    results: list[CheckResult]
    started_at: str
    duration: float
    notes: list[str] = field(default_factory=list)  # e.g. expired waivers
    source: str | None = None  # the tree it checked: `<sha12>` or `<sha12>-dirty-<diff hash>` (None: not git)
    deferred: list[str] = field(default_factory=list)  # checks left to the deploy (["images"])

    @property
    def passed(self) -> bool:
        return all(r.outcome.ok for r in self.results)

    @property
    def outcomes(self) -> dict[str, str]:
        return {r.name: r.outcome.value for r in self.results}

    def failing(self) -> list[CheckResult]:
        return [r for r in self.results if not r.outcome.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "passed": self.passed,
            "started_at": self.started_at,
            "duration": round(self.duration, 3),
            "outcomes": self.outcomes,
            "checks": [r.to_json() for r in self.results],
            "notes": self.notes,
            "source": self.source,
            "deferred": self.deferred,
        }

    def write_json(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return target

    def render(self, *, stderr: bool = False) -> None:
        """The checklist table (rich), the details of every check that did not pass, then the verdict."""
        from pmis_deploy import console

        rows = [(r.name, r.title, r.outcome.value, f"{r.duration:.1f}s", _summary(r)) for r in self.results]
        console.table(
            f"Pre-deployment checklist ({self.environment})",
            ("check", "runbook item", "outcome", "time", "details"),
            rows,
            stderr=stderr,
        )
        for r in self.results:
            if r.outcome is not Outcome.PASS:
                console.info(f"\n{r.name}: {r.outcome.value}\n" + _indent(_full(r)))
        for note in self.notes:
            console.warn(note)
        if self.passed:
            console.success(f"checklist passed ({len(self.results)} checks, {self.duration:.1f}s)")
        else:
            names = ", ".join(f"{r.name} ({r.outcome.value})" for r in self.failing())
            console.error(f"checklist did not pass: {names}")


def _summary(result: CheckResult) -> str:
    """One or two short lines for the table cell."""
    lines = [line for line in result.details.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = first if len(first) <= 160 else first[:157] + "…"
    if result.findings:
        first += f"\n{len(result.findings)} finding(s)"
    return first


def _full(result: CheckResult, max_findings: int = 25) -> str:
    lines = result.details.splitlines()
    lines += [str(f) for f in result.findings[:max_findings]]
    if len(result.findings) > max_findings:
        lines.append(f"… and {len(result.findings) - max_findings} more (see --json)")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def run_checks(
    items: Sequence[Item],
    ctx: CheckContext,
    *,
    today: dt.date | None = None,
    max_workers: int = MAX_WORKERS,
) -> Report:
    """Run `items` concurrently (independent checks), apply waivers, keep checklist order."""
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    today = today or dt.date.today()
    workers = max(1, min(max_workers, len(items)))
    # Long and network-bound checks start first; the report keeps the checklist order.
    order = sorted(items, key=lambda item: (not item.slow, not item.network))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        futures = {item.name: pool.submit(run_one, item, ctx) for item in order}
        results = [futures[item.name].result() for item in items]
    notes: list[str] = []
    waivers = list(ctx.settings.checks.waivers)
    results = [apply_waivers(r, waivers, today, notes) for r in results]
    deferred = ["images"] if ctx.defer_image_scan and any(item.name == "images" for item in items) else []
    return Report(
        ctx.settings.environment.value,
        results,
        started_at,
        time.monotonic() - started,
        notes,
        source=source_of(ctx.root),
        deferred=deferred,
    )


def source_of(root: Path) -> str | None:
    """What `images.source_version` calls the tree at `root` (None outside a git checkout)."""
    from pmis_deploy.images import source_version
    from pmis_deploy.shell import Runner

    try:
        return source_version(Runner(echo=False), root, allow_dirty=True)[1]
    except DeployError:
        return None


def run_one(item: Item, ctx: CheckContext, function: Callable[[CheckContext], Verdict] | None = None) -> CheckResult:
    """Run one check; a missing tool is UNAVAILABLE, any other error is a FAIL (never a silent pass)."""
    started = time.monotonic()
    try:
        verdict = (function or item.function())(ctx)
    except ToolMissingError as exc:
        verdict = Verdict(Outcome.UNAVAILABLE, exc.render())
    except DeployError as exc:
        verdict = Verdict(Outcome.FAIL, exc.render())
    except Exception as exc:  # a bug in a check must not pass the gate
        verdict = Verdict(Outcome.FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")
    return CheckResult(
        item.name, item.title, verdict.outcome, time.monotonic() - started, verdict.details, verdict.findings
    )


def apply_waivers(result: CheckResult, waivers: Sequence[Waiver], today: dt.date, notes: list[str]) -> CheckResult:
    """A FAIL/UNAVAILABLE covered by an unexpired waiver becomes WAIVED; expired waivers stop counting."""
    mine = [w for w in waivers if w.check == result.name]
    if not mine:
        return result
    valid = [w for w in mine if w.expires >= today]
    for w in mine:
        if w.expires < today:
            notes.append(
                f"checks.waivers: the waiver for {w.check} expired on {w.expires.isoformat()} and no longer counts"
            )
    if result.outcome.ok:
        return result
    if not valid:
        expired = max(w.expires for w in mine)
        result.details = (
            f"{result.details}\nwaiver expired on {expired.isoformat()}: not counted (renew it or fix the finding)"
        ).strip()
        return result
    waiver = max(valid, key=lambda w: w.expires)
    by = f", approved by {waiver.approved_by}" if waiver.approved_by else ""
    result.details = (
        f"WAIVED until {waiver.expires.isoformat()}{by}: {waiver.reason}\n(was {result.outcome.value}) {result.details}"
    ).strip()
    result.outcome = Outcome.WAIVED
    return result


def run_named(
    loaded: LoadedSettings,
    names: Sequence[str],
    *,
    json_path: str | None = None,
    images: Sequence[str] = (),
    runner: Runner | None = None,
    defer_image_scan: bool = False,
) -> Report:
    """What `inv checks.<name>` does: run, show the table, write JSON when asked.

    `images` are `service=ref@sha256:…` strings (the release's images for checks.images).
    """
    from pmis_deploy.checks.registry import resolve
    from pmis_deploy.errors import ConfigError
    from pmis_deploy.shell import Runner

    refs: dict[str, str] = {}
    for spec in images:
        service, sep, ref = spec.partition("=")
        if not sep or not service or not ref:
            raise ConfigError(f"--image {spec!r}: expected SERVICE=IMAGE@sha256:DIGEST", hint="--image api=…@sha256:…")
        refs[service] = ref
    items = resolve(names)
    ctx = CheckContext(
        loaded.root, loaded.settings, runner or Runner(), images=refs, defer_image_scan=defer_image_scan and not refs
    )
    report = run_checks(items, ctx)
    report.render()
    if json_path:
        from pmis_deploy import console

        console.info(f"wrote {report.write_json(json_path)}")
    return report
