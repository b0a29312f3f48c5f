"""Settings of the checklist (the `[checks]` table): waivers, evidence, thresholds."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, SecretStr, field_validator

from pmis_deploy.settings_base import Strict


class Severity(StrEnum):
    low = "low"
    moderate = "moderate"
    high = "high"
    critical = "critical"


class Waiver(Strict):
    """Lets a FAIL/UNAVAILABLE check through until `expires` (inclusive), for a stated reason."""

    check: str
    reason: str = Field(min_length=10)
    expires: dt.date
    approved_by: str | None = None

    @field_validator("check")
    @classmethod
    def _known_check(cls, value: str) -> str:
        import difflib

        from pmis_deploy.checks.registry import BY_NAME

        if value not in BY_NAME:
            close = difflib.get_close_matches(value, list(BY_NAME), n=1)
            hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(BY_NAME)}"
            raise ValueError(f"is not a check ({hint})")
        return value


class LintLevel(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"
    style = "style"


class ChecksSettings(Strict):
    # Vulnerabilities at or above this severity fail checks.audit (npm) and checks.images (trivy).
    audit_severity_threshold: Severity = Severity.high
    # hadolint findings at or above this level fail checks.images.
    hadolint_threshold: LintLevel = LintLevel.warning
    # Seconds each check may run (the test suites get tests_timeout_seconds).
    tool_timeout_seconds: int = Field(600, ge=10)
    tests_timeout_seconds: int = Field(1800, ge=60)
    # A PostgreSQL server where checks.migrations may create (and then drop) a scratch database to compare
    # the models with what the migrations build. Unset: the `local` environment uses local.database_url;
    # other environments report that comparison as UNAVAILABLE.
    migrations_database_url: SecretStr | None = None
    # Air-gapped: do not contact advisory services (pip-audit, npm audit, trivy's database); those parts
    # are then UNAVAILABLE ("offline"), never PASS. The tests set it (no network beyond loopback).
    offline: bool = False
    evidence_dir: str = "evidence"
    evidence_max_age_days: int = Field(90, ge=1)
    waivers: list[Waiver] = Field(default_factory=list)
