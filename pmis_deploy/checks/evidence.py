"""Checklist items a tool cannot decide, answered by evidence files the team commits.

Each file (evidence/<item>.md) starts with front matter holding the date the work was done:

    ---
    date: 2026-11-20
    by: Jane Doe
    ---
    What was done, results, links.

Missing → FAIL ("commit evidence/<file>"); older than settings.checks.evidence_max_age_days → FAIL.
"""

from __future__ import annotations

import datetime as dt
import re

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, Verdict

_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<head>.*?)\n---\s*(?:\n(?P<body>.*))?\Z", re.DOTALL)
_DATE = re.compile(r"^date:\s*(?P<date>.+?)\s*$", re.MULTILINE)


def evidence_check(ctx: CheckContext, filename: str, what: str, *, today: dt.date | None = None) -> Verdict:
    """PASS when evidence/<filename> exists, has a valid `date:` no older than the limit, and a body."""
    settings = ctx.settings.checks
    rel = f"{settings.evidence_dir}/{filename}"
    path = ctx.root / rel
    template = f"{settings.evidence_dir}/README.md"
    if not path.is_file():
        return _fail(rel, f"no evidence that {what}: commit {rel} (template in {template})")
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    date_match = _DATE.search(match["head"]) if match else None
    if not match or not date_match:
        return _fail(rel, f"no `date: YYYY-MM-DD` front matter (see {template})")
    try:
        done = dt.date.fromisoformat(date_match["date"])
    except ValueError:
        return _fail(rel, f"date {date_match['date']!r} is not YYYY-MM-DD")
    today = today or dt.date.today()
    age = (today - done).days
    if age < 0:
        return _fail(rel, f"date {done.isoformat()} is in the future")
    if not (match["body"] or "").strip():
        return _fail(rel, "the file has a date but no content: describe what was done and the results")
    limit = settings.evidence_max_age_days
    if age > limit:
        return _fail(
            rel,
            f"evidence older than {limit} days (dated {done.isoformat()}, {age} days ago): redo it and update {rel}",
        )
    return Verdict(Outcome.PASS, f"{rel} dated {done.isoformat()} ({age} days old, limit {limit})")


def _fail(rel: str, message: str) -> Verdict:
    return Verdict(Outcome.FAIL, message, [Finding(rel, message)])


def load_testing(ctx: CheckContext) -> Verdict:
    return evidence_check(ctx, "load-testing.md", "load testing was completed")


def disaster_recovery(ctx: CheckContext) -> Verdict:
    return evidence_check(ctx, "disaster-recovery.md", "a disaster recovery plan is documented")


def monitoring(ctx: CheckContext) -> Verdict:
    return evidence_check(ctx, "monitoring.md", "monitoring and logging are configured")
