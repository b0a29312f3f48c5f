"""All tests pass: the api and worker test suites and this repository's own, each with a summary.

The suites run one after the other (they share two cores with everything else) with
PMIS_TEST_FROM_CHECKLIST=1 set (config ignores PMIS_TEST_* names), and the check refuses to run when
that variable or PYTEST_CURRENT_TEST is set: from inside a test run it would start the suite recursively.
"""

from __future__ import annotations

import re

from pmis_deploy.checks.outcome import CheckContext, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.checks.tools import find_tool, missing

SUITES = ("apps/api/tests", "apps/worker/tests", "tests")
GUARD = "PMIS_TEST_FROM_CHECKLIST"
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
EXIT_MEANING = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}


def check(ctx: CheckContext) -> Verdict:
    inside = [
        name
        for name, value in (
            (GUARD, ctx.environ.get("PMIS_TEST_FROM_CHECKLIST")),
            ("PYTEST_CURRENT_TEST", ctx.environ.get("PYTEST_CURRENT_TEST")),
        )
        if value
    ]
    if inside:
        return Verdict(
            Outcome.UNAVAILABLE,
            f"not run: already inside a test run ({inside[0]} is set), and the suites would run themselves "
            "recursively; run `inv checks.tests` (or nox -s tests) on its own",
        )
    pytest = find_tool("pytest")
    if pytest is None:
        return Verdict(Outcome.UNAVAILABLE, missing("pytest"))
    return verdict([run_suite(ctx, pytest, suite) for suite in SUITES])


def run_suite(ctx: CheckContext, pytest: str, suite: str) -> SubCheck:
    if not (ctx.root / suite).is_dir():
        return SubCheck(suite, Outcome.FAIL, f"{suite} not found: every service ships its tests")
    res = ctx.runner.run(
        [pytest, "-q", "-p", "no:cacheprovider", "--color=no", suite],
        mutating=False,
        check=False,
        cwd=ctx.root,
        env={GUARD: "1"},
        timeout=ctx.settings.checks.tests_timeout_seconds,
    )
    return summarize(suite, res.stdout, res.returncode)


def summarize(suite: str, stdout: str, returncode: int) -> SubCheck:
    """pytest's last summary line ("3 passed, 1 skipped in 2.1s") and its exit code → a sub-check."""
    lines = [line.strip("= ") for line in stdout.strip().splitlines() if _COUNT.search(line)]
    summary = lines[-1] if lines else ""
    if returncode == 0 and summary:
        return SubCheck(suite, Outcome.PASS, summary)
    why = EXIT_MEANING.get(returncode, "tests failed" if returncode == 1 else f"exit {returncode}")
    failed = [line.split(" - ")[0] for line in stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    note = f"{why}: {summary}" if summary else why
    if failed:
        note += "; " + ", ".join(failed[:5]) + (f" … ({len(failed)} in all)" if len(failed) > 5 else "")
    return SubCheck(suite, Outcome.FAIL, note)
