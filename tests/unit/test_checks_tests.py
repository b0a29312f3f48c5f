"""checks.tests: runs each suite with pytest and summarises it; refuses to recurse from inside a test run."""

from __future__ import annotations

from pmis_deploy.checks import tests_check
from pmis_deploy.checks.outcome import Outcome


def suites(root, worker_body="assert True"):
    for suite, body in (("apps/api/tests", "assert 1 + 1 == 2"), ("apps/worker/tests", worker_body), ("tests", "pass")):
        (root / suite).mkdir(parents=True)
        (root / suite / f"test_{suite.replace('/', '_')}.py").write_text(f"def test_it():\n    {body}\n")
    return root


def test_each_suite_is_run_and_summarised_and_any_failure_fails(check_ctx, tmp_path):
    # One check run covers a passing suite, a failing one and a missing one (pytest starts slowly).
    root = suites(tmp_path, worker_body="assert 1 == 2")
    for leftover in (root / "tests").iterdir():
        leftover.unlink()
    (root / "tests").rmdir()
    verdict = tests_check.check(check_ctx(root))
    assert verdict.outcome is Outcome.FAIL
    assert "apps/api/tests: PASS (1 passed in" in verdict.details
    assert "apps/worker/tests: FAIL (tests failed: 1 failed in" in verdict.details
    assert "FAILED apps/worker/tests/test_apps_worker_tests.py::test_it" in verdict.details
    assert "tests: FAIL (tests not found" in verdict.details


def test_inside_a_test_run_it_is_unavailable_not_recursive(check_ctx, tmp_path):
    verdict = tests_check.check(check_ctx(suites(tmp_path), environ={"PMIS_TEST_FROM_CHECKLIST": "1"}))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "recursively" in verdict.details


def test_summary_parsing():
    out = "..F\nFAILED tests/test_a.py::test_b - assert 0\n==== 1 failed, 2 passed, 1 skipped in 0.31s ====\n"
    sub = tests_check.summarize("tests", out, 1)
    assert sub.note == "tests failed: 1 failed, 2 passed, 1 skipped in 0.31s; FAILED tests/test_a.py::test_b"
    assert tests_check.summarize("tests", "\nno tests ran in 0.01s\n", 5).note == "no tests collected"
