"""Evidence items (load testing, disaster recovery, monitoring): committed files with a fresh date."""

from __future__ import annotations

import datetime as dt

import pytest

from pmis_deploy.checks import evidence
from pmis_deploy.checks.outcome import Outcome

TODAY = dt.date(2026, 11, 28)


def write(root, text, name="load-testing.md"):
    (root / "evidence").mkdir(exist_ok=True)
    (root / "evidence" / name).write_text(text)


def run(ctx, **kw):
    return evidence.evidence_check(ctx, "load-testing.md", "load testing was completed", today=TODAY, **kw)


def test_missing_evidence_fails_and_says_what_to_commit(check_ctx, tmp_path):
    verdict = run(check_ctx(tmp_path))
    assert verdict.outcome is Outcome.FAIL
    assert "commit evidence/load-testing.md (template in evidence/README.md)" in verdict.details


def test_fresh_evidence_passes_with_its_date(check_ctx, tmp_path):
    write(tmp_path, "---\ndate: 2026-11-20\nby: QA\n---\nk6: 500 VUs, p95 180 ms.\n")
    verdict = run(check_ctx(tmp_path))
    assert verdict.outcome is Outcome.PASS
    assert "dated 2026-11-20 (8 days old, limit 90)" in verdict.details


def test_stale_evidence_fails(check_ctx, tmp_path):
    write(tmp_path, "---\ndate: 2026-11-20\n---\nresults\n")
    verdict = run(check_ctx(tmp_path, checks={"evidence_max_age_days": 7}))
    assert verdict.outcome is Outcome.FAIL
    assert "evidence older than 7 days" in verdict.details


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k6 ran fine\n", "no `date: YYYY-MM-DD` front matter"),
        ("---\ndate: 20 Nov\n---\nx\n", "is not YYYY-MM-DD"),
        ("---\ndate: 2026-12-01\n---\nx\n", "in the future"),
        ("---\ndate: 2026-11-27\n---\n\n", "no content"),
    ],
)
def test_malformed_evidence_fails(check_ctx, tmp_path, text, message):
    write(tmp_path, text)
    verdict = run(check_ctx(tmp_path))
    assert verdict.outcome is Outcome.FAIL
    assert message in verdict.details


def test_each_manual_item_has_its_own_file(check_ctx, tmp_path):
    write(tmp_path, f"---\ndate: {dt.date.today().isoformat()}\n---\nplan\n", "disaster-recovery.md")
    ctx = check_ctx(tmp_path)
    assert evidence.disaster_recovery(ctx).outcome is Outcome.PASS
    assert "evidence/monitoring.md" in evidence.monitoring(ctx).details
    assert evidence.load_testing(ctx).outcome is Outcome.FAIL
