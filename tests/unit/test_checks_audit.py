"""checks.audit: parsing real (captured) and constructed pip-audit / npm audit output; the check's flow
with stand-in executables that print that output (no test reaches an advisory service)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from pmis_deploy.checks import audit
from pmis_deploy.checks.outcome import CheckContext, Outcome, Verdict
from pmis_deploy.checks.settings import Severity
from tests.fixtures.checks import DATA


def data(name: str) -> str:
    return (DATA / name).read_text()


def test_captured_offline_pip_audit_is_unavailable_not_pass() -> None:
    # Captured: exit 0 and "No known vulnerabilities found", but every dependency was skipped.
    assert "No known vulnerabilities found" in data("pip-audit-offline-skipped.stderr.txt")
    sub = audit.parse_pip_audit("p", data("pip-audit-offline-skipped.json"), "", 0)
    assert sub.outcome is Outcome.UNAVAILABLE
    assert "0 of 2 dependencies audited" in sub.note
    assert "could not be audited" in sub.note


def test_captured_osv_network_error_is_unavailable() -> None:
    sub = audit.parse_pip_audit("p", "", data("pip-audit-osv-offline.stderr.txt"), 1)
    assert sub.outcome is Outcome.UNAVAILABLE
    assert "api.osv.dev" in sub.note


def test_pip_audit_vulnerability_fails_and_names_package_id_and_fix() -> None:
    sub = audit.parse_pip_audit("p", data("pip-audit-vulnerable.json"), "", 1)
    assert sub.outcome is Outcome.FAIL
    assert [str(f) for f in sub.findings] == [
        "[vulnerability] requests==2.19.0: PYSEC-2018-28 (CVE-2018-18074): fixed in 2.20.0"
    ]
    assert "1 could not be audited" in sub.note


def test_pip_audit_clean_report_passes() -> None:
    sub = audit.parse_pip_audit("p", data("pip-audit-clean.json"), "", 0)
    assert sub.outcome is Outcome.PASS
    assert "2 of 2 dependencies audited" in sub.note


def test_pip_audit_error_without_report_fails() -> None:
    sub = audit.parse_pip_audit("p", "", "ERROR: requirement x is not pinned to an exact version", 1)
    assert sub.outcome is Outcome.FAIL


def test_captured_npm_405_is_unavailable_with_the_http_error() -> None:
    sub = audit.parse_npm_audit("n", data("npm-audit-offline-405.json"), "", 1, Severity.high)
    assert sub.outcome is Outcome.UNAVAILABLE
    assert "HTTP 405" in sub.note and "advisories/bulk" in sub.note


@pytest.mark.parametrize(
    ("threshold", "outcome", "failing"),
    [
        (Severity.critical, Outcome.PASS, []),
        (Severity.high, Outcome.FAIL, ["lodash"]),
        (Severity.moderate, Outcome.FAIL, ["lodash", "nanoid"]),
    ],
)
def test_npm_severity_threshold(threshold: Severity, outcome: Outcome, failing: list[str]) -> None:
    sub = audit.parse_npm_audit("n", data("npm-audit-vulnerable.json"), "", 1, threshold)
    assert sub.outcome is outcome
    assert [f.location.split()[0] for f in sub.findings] == failing
    if failing:
        assert sub.findings[0].severity == "high"
        assert "Command Injection in lodash (fix available)" in sub.findings[0].message


def test_npm_output_that_is_not_json_is_unavailable() -> None:
    sub = audit.parse_npm_audit("n", "", "npm error network ENOTFOUND", 1, Severity.high)
    assert sub.outcome is Outcome.UNAVAILABLE


def test_unpinned_requirements_are_pinned_to_the_installed_version() -> None:
    import importlib.metadata

    pinned, notes = audit.pin_requirements(
        ["# comment", "pydantic>=2,<3", "requests==2.32.3", "-r other.txt", "surely-not-installed-pkg>=1"]
    )
    assert pinned == [f"pydantic=={importlib.metadata.version('pydantic')}", "requests==2.32.3"]
    assert "1 unpinned requirement(s)" in notes[0]
    assert "surely-not-installed-pkg" in notes[1]


def test_installed_pins_exclude_this_project() -> None:
    pins = audit.installed_pins()
    assert any(p.lower().startswith("pydantic==") for p in pins)
    assert not any(p.lower().startswith("pmis-deploy==") for p in pins)


def fake_tool(directory: Path, name: str, stdout_file: str, code: int) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\ncat '{DATA / stdout_file}'\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def tree(root: Path) -> Path:
    (root / "apps/api").mkdir(parents=True)
    (root / "apps/api/requirements.txt").write_text("fastapi==0.115.0\n")
    (root / "apps/web").mkdir(parents=True)
    (root / "apps/web/package.json").write_text("{}")
    (root / "apps/web/package-lock.json").write_text("{}")
    return root


@pytest.fixture
def audit_with_fake_tools(
    check_ctx: Callable[..., CheckContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Verdict]:
    """audit(npm_report): the check on a small tree where the stand-in pip-audit prints the captured
    offline report (exit 0) and the stand-in npm prints `npm_report` (exit 1)."""

    def run(npm_report: str) -> Verdict:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        tools = {
            "pip-audit": fake_tool(bin_dir, "pip-audit", "pip-audit-offline-skipped.json", 0),
            "npm": fake_tool(bin_dir, "npm", npm_report, 1),
        }
        monkeypatch.setattr(audit, "find_tool", tools.get)
        return audit.check(check_ctx(tree(tmp_path / "t")))

    return run


def test_check_offline_is_unavailable_and_lists_every_target(audit_with_fake_tools: Callable[[str], Verdict]) -> None:
    verdict = audit_with_fake_tools("npm-audit-offline-405.json")
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "pip-audit apps/api/requirements.txt: UNAVAILABLE" in verdict.details
    assert "pip-audit pmis-deploy (installed environment): UNAVAILABLE" in verdict.details
    assert "npm audit apps/web: UNAVAILABLE (the npm advisory service did not answer (HTTP 405" in verdict.details


def test_check_fails_on_a_vulnerability_even_when_another_target_is_unavailable(
    audit_with_fake_tools: Callable[[str], Verdict],
) -> None:
    verdict = audit_with_fake_tools("npm-audit-vulnerable.json")
    assert verdict.outcome is Outcome.FAIL
    assert [f.location for f in verdict.findings] == ["lodash <=4.17.20"]


def test_missing_tools_are_unavailable_with_how_to_install(
    check_ctx: Callable[..., CheckContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "find_tool", lambda name: None)
    verdict = audit.check(check_ctx(tree(tmp_path / "t")))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "pip-audit is not installed: pip install pip-audit" in verdict.details
    assert "npm is not installed" in verdict.details


def test_web_app_without_lockfile_fails(
    check_ctx: Callable[..., CheckContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path / "t")
    (root / "apps/web/package-lock.json").unlink()
    monkeypatch.setattr(audit, "find_tool", lambda name: None)
    assert "no package-lock.json" in audit.check(check_ctx(root)).details
    assert audit.check(check_ctx(root)).outcome is Outcome.FAIL


def test_offline_runs_no_tool(
    check_ctx: Callable[..., CheckContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "find_tool", lambda name: pytest.fail("a tool was looked up"))
    verdict = audit.check(check_ctx(tree(tmp_path / "t"), checks={"offline": True}))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "checks.offline" in verdict.details
