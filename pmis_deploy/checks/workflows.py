"""GitHub workflows: actionlint when it is installed (else UNAVAILABLE), plus the GitHub workflow JSON
schema (check-jsonschema) as a pre-check whose errors FAIL the check either way."""

from __future__ import annotations

import json
from pathlib import Path

from pmis_deploy.checks import schema
from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.checks.tools import find_tool, missing


def workflow_files(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def check(ctx: CheckContext) -> Verdict:
    files = workflow_files(ctx.root)
    if not files:
        return Verdict(Outcome.FAIL, "no .github/workflows/*.yml", [Finding(".github/workflows", "no workflows")])
    subchecks = [schema.validate(ctx, "vendor.github-workflows", files, "github-workflows schema")]
    subchecks.append(actionlint(ctx, files))
    return verdict(subchecks)


def actionlint(ctx: CheckContext, files: list[Path]) -> SubCheck:
    tool = find_tool("actionlint")
    if tool is None:
        return SubCheck("actionlint", Outcome.UNAVAILABLE, missing("actionlint"))
    rels = [str(p.relative_to(ctx.root)) for p in files]
    res = ctx.run_tool([tool, "-format", "{{json .}}", *rels])
    return parse_actionlint(res.stdout, res.stderr, res.returncode, len(rels))


def parse_actionlint(stdout: str, stderr: str, returncode: int, count: int) -> SubCheck:
    """actionlint's `{{json .}}` output: a JSON array of {message, filepath, line, column, kind}."""
    try:
        errors = json.loads(stdout or "[]") or []
    except json.JSONDecodeError:
        return SubCheck("actionlint", Outcome.FAIL, f"actionlint failed (exit {returncode}): {stderr.strip()[-300:]}")
    findings = [
        Finding(f"{e['filepath']}:{e['line']}", f"{e['message']} [{e.get('kind', '')}]", "lint") for e in errors
    ]
    if findings or returncode != 0:
        note = f"{len(findings)} problem(s)" if findings else f"exit {returncode}: {stderr.strip()[-300:]}"
        return SubCheck("actionlint", Outcome.FAIL, note, findings)
    return SubCheck("actionlint", Outcome.PASS, f"{count} workflow(s) clean")
