"""--checks-report: the deploy's gate takes the outcomes of a checklist report of the same tree and
environment (nox -s predeploy in CI) instead of running the checklist a second time, and refuses
any report that is stale, of another tree or environment, incomplete or unreadable."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from pmis_deploy.checks import registry
from pmis_deploy.checks.outcome import CheckContext, Outcome, Verdict
from pmis_deploy.config import LoadedSettings
from pmis_deploy.errors import ConfigError, GateFailed
from pmis_deploy.gate import accept_report, run_gate
from pmis_deploy.pipeline import Run, gate_step
from pmis_deploy.release import ReleaseRecord

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@pytest.fixture
def committed(git_tree: Callable[[Mapping[str, str]], Path]) -> Path:
    root = git_tree({"app.py": "print('v1')\n"})
    subprocess.run([*GIT, "-C", str(root), "commit", "-q", "-m", "v1"], check=True)
    return root


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Outcome]:
    """What each check says (the checks themselves are tested elsewhere); a check that runs is counted."""
    said = {"secrets": Outcome.PASS, "compose": Outcome.PASS, "images": Outcome.PASS, "audit": Outcome.PASS}
    monkeypatch.setattr(
        registry.Item, "function", lambda self: lambda ctx: Verdict(said[self.name], f"{self.name} ran")
    )
    return said


def _loaded(check_ctx: Callable[..., CheckContext], root: Path, gate: list[str]) -> LoadedSettings:
    ctx = check_ctx(root, deploy={"gate": gate})
    return LoadedSettings(ctx.settings, {}, root)


def _report(loaded: LoadedSettings, path: Path) -> dict[str, object]:
    result = run_gate(loaded, show=False, defer_image_scan=True)
    assert result.report is not None
    result.report.write_json(path)
    return dict(json.loads(path.read_text()))


def test_a_report_of_this_tree_stands_in_for_the_gate(
    check_ctx: Callable[..., CheckContext], committed: Path, outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    loaded = _loaded(check_ctx, committed, ["secrets", "images"])
    written = _report(loaded, tmp_path / "checks.json")
    head = subprocess.run(["git", "-C", str(committed), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert written["source"] == head.stdout.strip()[:12] and written["deferred"] == ["images"]

    outcomes["secrets"] = Outcome.FAIL  # the checks are NOT run again: the report's PASS stands
    result = accept_report(loaded, tmp_path / "checks.json")
    assert (result.passed, result.outcomes, result.deferred) == (
        True,
        {"secrets": "PASS", "images": "PASS"},  # pragma: allowlist secret
        ("images",),  # the deploy still scans the pushed digests
    )


def test_a_failing_report_fails_the_gate(
    check_ctx: Callable[..., CheckContext], committed: Path, outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    outcomes["compose"] = Outcome.FAIL
    loaded = _loaded(check_ctx, committed, ["compose", "secrets"])
    _report(loaded, tmp_path / "checks.json")
    result = accept_report(loaded, tmp_path / "checks.json")
    assert not result.passed
    assert "compose (FAIL)" in result.error().message


def test_reports_that_do_not_describe_this_release_are_refused(
    check_ctx: Callable[..., CheckContext], committed: Path, outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    loaded = _loaded(check_ctx, committed, ["secrets", "compose"])
    path = tmp_path / "checks.json"
    report = _report(loaded, path)
    started = dt.datetime.fromisoformat(str(report["started_at"]))

    with pytest.raises(GateFailed, match=r"is 121 minutes old \(deploy.checks_report_max_age_minutes = 120\)"):
        accept_report(loaded, path, now=started + dt.timedelta(minutes=121))

    wider = _loaded(check_ctx, committed, ["secrets", "compose", "audit"])
    with pytest.raises(GateFailed, match="lacks the gate checks: audit"):
        accept_report(wider, path)

    path.write_text(json.dumps({**report, "environment": "staging"}))
    with pytest.raises(GateFailed, match="checked 'staging', not 'local'") as caught:
        accept_report(loaded, path)
    assert caught.value.hint is not None and "nox -s predeploy -- --env local" in caught.value.hint

    path.write_text(json.dumps(report))
    (committed / "app.py").write_text("print('v2')\n")  # an uncommitted change after the checklist ran
    with pytest.raises(GateFailed, match=r"this tree is '[0-9a-f]{12}-dirty-[0-9a-f]{8}'"):
        accept_report(loaded, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not a checklist report"),
        ('{"environment": "local", "outcomes": {}}', "not a checklist report"),
        ('{"environment": "local", "started_at": "2026-11-28T00:00:00", "outcomes": {}}', "no time zone"),
    ],
)
def test_unreadable_reports_name_the_file(
    check_ctx: Callable[..., CheckContext], committed: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "checks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(GateFailed, match=message) as caught:
        accept_report(_loaded(check_ctx, committed, ["secrets"]), path)
    assert str(path) in caught.value.message


def test_the_gate_step_records_the_report_and_refuses_both_options(
    check_ctx: Callable[..., CheckContext], committed: Path, outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    loaded = _loaded(check_ctx, committed, ["secrets", "images"])
    path = tmp_path / "checks.json"
    _report(loaded, path)
    run = Run(ReleaseRecord(id="r1", environment="local", cloud="aws", git_sha="a" * 40, tag="t"))
    gate_step(loaded, None, str(path)).run(run)
    assert run.record.gate_report == str(path)
    passed = {"secrets": "PASS", "images": "PASS"}  # pragma: allowlist secret
    assert run.record.checks == passed and run.deferred_checks == ("images",)
    with pytest.raises(ConfigError, match="contradict"):
        gate_step(loaded, "hotfix", str(path))
