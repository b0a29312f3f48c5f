"""`inv checks.all` on this repository as a person runs it (offline: no advisory service is contacted),
and `nox -l`. The suites themselves are not run from here (checks.tests refuses inside a test run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmis_deploy.checks.registry import CHECKLIST, RUNBOOK_ITEMS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.integration
def test_checks_all_reports_every_runbook_item_and_exits_accordingly(tmp_path, pg_cluster):
    out = tmp_path / "checks.json"
    env = {
        **os.environ,
        "PMIS_CHECKS__OFFLINE": "true",
        "PMIS_TEST_FROM_CHECKLIST": "1",
        # the scratch database for checks.migrations, instead of starting the local environment's PostgreSQL
        "PMIS_CHECKS__MIGRATIONS_DATABASE_URL": pg_cluster.url(),
        "COLUMNS": "200",
    }
    proc = subprocess.run(
        [str(BIN / "inv"), "checks.all", "--env", "local", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    outcomes = report["outcomes"]
    assert list(outcomes) == [item.name for item in CHECKLIST]
    assert set(outcomes.values()) <= {"PASS", "FAIL", "UNAVAILABLE", "WAIVED"}
    titles = " ".join(c["title"] for c in report["checks"])
    assert all(item in titles for item in RUNBOOK_ITEMS)
    # Offline and inside a test run: these cannot pass, and do not.
    assert outcomes["tests"] == "UNAVAILABLE"
    assert "recursively" in report["checks"][0]["details"]
    assert outcomes["audit"] == "UNAVAILABLE"
    assert outcomes["migrations"] == "PASS", report["checks"][5]["details"]
    # The exit code follows the outcomes: 0 only when every item is PASS or WAIVED.
    passed = all(v in ("PASS", "WAIVED") for v in outcomes.values())
    assert report["passed"] is passed is False
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Pre-deployment checklist (local)" in proc.stdout
    for name in outcomes:
        assert name in proc.stdout
    assert "checklist did not pass" in proc.stderr
    assert all(c["duration"] >= 0 for c in report["checks"])


def test_nox_lists_the_sessions():
    proc = subprocess.run([str(BIN / "nox"), "-l"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for session in ("tests", "lint", "typecheck", "predeploy", "audit"):
        assert f" {session} -> " in proc.stdout
