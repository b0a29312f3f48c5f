"""Settings of the checklist (the `[checks]` table): waivers, evidence, thresholds."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from pmis_deploy.settings_base import Strict


class Severity(StrEnum):
    low = "low"
    moderate = "moderate"
    high = "high"
    critical = "critical"


class Waiver(Strict):
    check: str
    reason: str = Field(min_length=10)
    expires: dt.date
    approved_by: str | None = None


class ChecksSettings(Strict):
    audit_severity_threshold: Severity = Severity.high
    evidence_dir: str = "evidence"
    evidence_max_age_days: int = Field(90, ge=1)
    waivers: list[Waiver] = Field(default_factory=list)
