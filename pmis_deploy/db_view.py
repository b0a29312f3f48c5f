"""Rendering of the db tasks' results (progress on stderr, results on stdout, URLs redacted)."""

from __future__ import annotations

from pmis_deploy.console import info, result, success, table
from pmis_deploy.db import CheckReport, DbState, MigrationOutcome, RevisionInfo, display_url
from pmis_deploy.errors import GateFailed


def _revs(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "base (nothing applied)"


def outcome(done: MigrationOutcome, url: str) -> None:
    info(f"database: {display_url(url)}")
    if not done.applied:
        success(f"no changes: the database is already at {_revs(done.before)}")
    elif done.planned:
        result(f"would {done.direction} {_revs(done.before)} → {_revs(done.after)}: {', '.join(done.applied)}")
        return
    else:
        success(f"{done.direction}d {_revs(done.before)} → {_revs(done.after)} (ran {', '.join(done.applied)})")
    result(f"revision: {_revs(done.after)}")


def state(current: DbState, url: str) -> None:
    info(f"database: {display_url(url)}")
    result(f"current: {_revs(current.current)}")
    result(f"head:    {_revs(current.heads)}")
    if current.up_to_date:
        success("up to date")
    else:
        result(f"pending: {', '.join(current.pending) or '-'} (run `inv db.migrate`)")


def history(revisions: list[RevisionInfo]) -> None:
    rows = [
        (r.revision, ", ".join(r.down_revisions) or "base", r.message, "head" if r.is_head else "") for r in revisions
    ]
    table("migrations (newest first)", ["revision", "down", "message", ""], rows)


def check(report: CheckReport) -> None:
    """Print the report; raise GateFailed when it found problems."""
    for line in report.diffs:
        result(f"  diff: {line}")
    if not report.ok:
        raise GateFailed("db.check failed:\n" + "\n".join(f"  - {p}" for p in report.problems))
    success(f"migrations OK: one head ({_revs(report.heads)}), database at head, models match the migrations")
