"""Validating YAML files against the JSON schemas check-jsonschema ships (compose-spec, GitHub workflows)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck
from pmis_deploy.checks.tools import find_tool, missing


def validate(ctx: CheckContext, schema: str, files: Sequence[Path], name: str) -> SubCheck:
    """`check-jsonschema --builtin-schema <schema>` over `files`: each error as file + JSON path."""
    tool = find_tool("check-jsonschema")
    if tool is None:
        return SubCheck(name, Outcome.UNAVAILABLE, missing("check-jsonschema"))
    rels = [str(p.relative_to(ctx.root)) for p in files]
    res = ctx.run_tool([tool, "--builtin-schema", schema, "-o", "JSON", *rels])
    return parse(name, res.stdout, res.stderr, res.returncode, len(rels))


def parse(name: str, stdout: str, stderr: str, returncode: int, count: int) -> SubCheck:
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        return SubCheck(name, Outcome.FAIL, f"check-jsonschema failed (exit {returncode}): {stderr.strip()[-300:]}")
    findings = [Finding(f"{e['filename']} {e['path']}", e["message"], "schema") for e in report.get("errors", [])]
    findings += [
        Finding(str(e.get("filename", "?")), str(e.get("message", e)), "parse") for e in report.get("parse_errors", [])
    ]
    if findings or report.get("status") != "ok":
        return SubCheck(name, Outcome.FAIL, f"{len(findings)} schema error(s) in {count} file(s)", findings)
    return SubCheck(name, Outcome.PASS, f"{count} file(s) valid")
