"""The vocabulary of the checklist: outcomes, findings, results and what every check receives."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmis_deploy.config import Settings
    from pmis_deploy.shell import Result, Runner


class Outcome(StrEnum):
    """PASS and WAIVED let a release through; FAIL and UNAVAILABLE stop it."""

    PASS = "PASS"  # noqa: S105 (an outcome, not a password)
    FAIL = "FAIL"
    UNAVAILABLE = "UNAVAILABLE"  # the tool or its advisory service could not be used: never a pass
    WAIVED = "WAIVED"  # failed or unavailable, but an unexpired waiver in config covers it

    @property
    def ok(self) -> bool:
        return self in (Outcome.PASS, Outcome.WAIVED)


@dataclass(frozen=True)
class Finding:
    """One problem a check found: where (file:line, package, image) and what. Never a secret value."""

    location: str
    message: str
    severity: str | None = None

    def __str__(self) -> str:
        prefix = f"[{self.severity}] " if self.severity else ""
        return f"{prefix}{self.location}: {self.message}" if self.location else prefix + self.message


@dataclass
class CheckResult:
    """What one checklist item concluded, how long it took and why."""

    name: str
    title: str
    outcome: Outcome
    duration: float = 0.0
    details: str = ""
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["duration"] = round(self.duration, 3)
        return data


@dataclass
class SubCheck:
    """One part of a check (e.g. "hadolint apps/api/Dockerfile"): its own outcome and a one-line note."""

    name: str
    outcome: Outcome
    note: str = ""
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Verdict:
    """What a check function returns; the report adds the name, title and duration."""

    outcome: Outcome
    details: str = ""
    findings: list[Finding] = field(default_factory=list)


def verdict(subchecks: Sequence[SubCheck], preface: str = "") -> Verdict:
    """The Verdict of a check made of sub-checks: combined outcome, one line per sub-check, all findings."""
    details = summarize(subchecks)
    findings = [f for s in subchecks for f in s.findings]
    return Verdict(combine(subchecks), f"{preface}\n{details}".strip(), findings)


def combine(subchecks: Sequence[SubCheck]) -> Outcome:
    """FAIL beats UNAVAILABLE beats PASS; no sub-check at all is UNAVAILABLE (nothing was checked)."""
    outcomes = {s.outcome for s in subchecks}
    if Outcome.FAIL in outcomes:
        return Outcome.FAIL
    if Outcome.UNAVAILABLE in outcomes or not outcomes:
        return Outcome.UNAVAILABLE
    return Outcome.PASS


def summarize(subchecks: Sequence[SubCheck]) -> str:
    """One line per sub-check: `name: OUTCOME (note)` — so a reader sees exactly what ran."""
    return "\n".join(f"{s.name}: {s.outcome.value}" + (f" ({s.note})" if s.note else "") for s in subchecks)


@dataclass
class CheckContext:
    """What a check works on: a tree, the environment's settings and the one command runner.

    `images` maps service → image reference (by digest) of the release being checked, when known.
    `defer_image_scan`: the caller (a deploy) scans the release's images after building them
    (gate.scan_images), so checks.images leaves the image scan out instead of reporting it UNAVAILABLE.
    `environ` is the process environment (tests pass their own).
    """

    root: Path
    settings: Settings
    runner: Runner
    images: Mapping[str, str] = field(default_factory=dict)
    defer_image_scan: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def run_tool(self, argv: Sequence[str], *, cwd: Path | None = None) -> Result:
        """Run a read-only scanner in the tree (or `cwd`) within checks.tool_timeout_seconds; a non-zero
        exit is the caller's to judge (scanners report findings that way)."""
        return self.runner.run(
            argv,
            mutating=False,
            check=False,
            cwd=cwd or self.root,
            timeout=self.settings.checks.tool_timeout_seconds,
        )
