"""No secrets in tracked files: detect-secrets over `git ls-files`, reviewed findings in .secrets.baseline.

Every tracked file is scanned (committed .env files, alembic.ini, compose files and workflows included),
plus two plugins of ours (secret_plugins.py: `sk-…` keys, unquoted secret assignments). A finding is
reported as file:line and type only; detect-secrets' JSON holds a SHA-1 of the value, never the value.
A tracked `.env`/`.env.<name>` (other than .env.example) is itself a finding: env files hold secrets.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, Verdict
from pmis_deploy.checks.tools import find_tool, missing

BASELINE = ".secrets.baseline"
PLUGINS = Path(__file__).with_name("secret_plugins.py")
_ENV_FILE = re.compile(r"(^|/)\.env(\.[^/]+)?$")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist")


def tracked_files(ctx: CheckContext) -> list[str] | None:
    """Files git tracks under ctx.root that exist in the work tree (None when it is not a git checkout)."""
    git = find_tool("git")
    if git is None:
        return None
    res = ctx.runner.run([git, "ls-files", "-z"], mutating=False, check=False, cwd=ctx.root, timeout=60)
    if not res.ok:
        return None
    names = [n for n in res.stdout.split("\0") if n]
    return [n for n in names if n != BASELINE and (ctx.root / n).is_file()]


def committed_env_files(files: Iterable[str]) -> list[str]:
    """Tracked .env files other than templates (.env.example and the like)."""
    return [f for f in files if _ENV_FILE.search(f) and not f.endswith(_ENV_TEMPLATES)]


def scan_argv(tool: str, files: list[str]) -> list[str]:
    return [tool, "scan", "--no-verify", "--plugin", str(PLUGINS), *files]


def check(ctx: CheckContext) -> Verdict:
    tool = find_tool("detect-secrets")
    if tool is None:
        return Verdict(Outcome.UNAVAILABLE, missing("detect-secrets"))
    files = tracked_files(ctx)
    if files is None:
        return Verdict(
            Outcome.UNAVAILABLE,
            f"{ctx.root} is not a git checkout (or git is missing): the scan covers tracked files; run it from a clone",
        )
    baseline, baseline_error = load_baseline(ctx.root / BASELINE)
    if baseline_error:
        return Verdict(Outcome.FAIL, baseline_error, [Finding(BASELINE, baseline_error)])
    found: list[dict[str, Any]] = []
    if files:
        quiet = dataclasses.replace(ctx.runner, echo=False)  # the argv lists every tracked file
        if ctx.runner.echo:
            from pmis_deploy import console

            console.info(
                f"$ {Path(tool).name} scan --no-verify --plugin secret_plugins.py <{len(files)} tracked files>"
            )
        res = quiet.run(
            scan_argv(tool, files),
            mutating=False,
            check=False,
            cwd=ctx.root,
            timeout=ctx.settings.checks.tool_timeout_seconds,
        )
        if not res.ok:
            tail = res.stderr.strip().splitlines()[-3:]
            return Verdict(Outcome.FAIL, f"detect-secrets failed (exit {res.returncode}): " + " | ".join(tail))
        found = parse_scan(res.stdout)
    return judge(found, baseline, files)


def load_baseline(path: Path) -> tuple[dict[tuple[str, str, str], bool], str | None]:
    """(filename, type, hashed_secret) → is_secret, from a detect-secrets baseline; or an error message."""
    if not path.is_file():
        return {}, None
    try:
        data = json.loads(path.read_text())
        results = data["results"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return (
            {},
            f"{BASELINE} is not a detect-secrets baseline ({exc}); recreate it: inv checks.secrets --update-baseline",
        )
    return {
        (entry["filename"], entry["type"], entry["hashed_secret"]): bool(entry.get("is_secret", False))
        for entries in results.values()
        for entry in entries
    }, None


def parse_scan(stdout: str) -> list[dict[str, Any]]:
    """The findings of `detect-secrets scan` JSON: filename, type, hashed_secret, line_number."""
    data = json.loads(stdout)
    return [entry for entries in data.get("results", {}).values() for entry in entries]


def judge(found: list[dict[str, Any]], baseline: dict[tuple[str, str, str], bool], files: list[str]) -> Verdict:
    """FAIL on findings not in the baseline, baseline entries confirmed as real (is_secret), committed .env files."""
    findings: list[Finding] = []
    reviewed = 0
    for entry in sorted(found, key=lambda e: (e["filename"], e.get("line_number", 0))):
        key = (entry["filename"], entry["type"], entry["hashed_secret"])
        where = f"{entry['filename']}:{entry.get('line_number', '?')}"
        if key not in baseline:
            findings.append(Finding(where, f"{entry['type']} (not in {BASELINE})", "secret"))
        elif baseline[key]:
            findings.append(
                Finding(where, f"{entry['type']} (marked is_secret: true in {BASELINE}: remove it)", "secret")
            )
        else:
            reviewed += 1
    for env_file in committed_env_files(files):
        findings.append(
            Finding(env_file, "committed env file: `git rm --cached` it, keep secrets in the secret store", "secret")
        )
    summary = f"detect-secrets over {len(files)} tracked files; {reviewed} reviewed finding(s) in {BASELINE}"
    if findings:
        fix = (
            "remove each secret (rotate it: it is in git history), or, if it is not a secret, "
            "add `# pragma: allowlist secret` or update the baseline (inv checks.secrets --update-baseline)"
        )
        return Verdict(Outcome.FAIL, f"{len(findings)} finding(s); {summary}\nfix: {fix}", findings)
    return Verdict(Outcome.PASS, summary)


def update_baseline(ctx: CheckContext) -> Path:
    """Write .secrets.baseline from the tracked files, keeping earlier review marks (is_secret)."""
    from pmis_deploy.errors import DeployError, ToolMissingError

    tool = find_tool("detect-secrets")
    if tool is None:
        raise ToolMissingError(missing("detect-secrets"))
    files = tracked_files(ctx)
    if files is None:
        raise DeployError(f"{ctx.root} is not a git checkout", hint="run it from a clone")
    path = ctx.root / BASELINE
    argv = scan_argv(tool, files)
    if path.is_file():
        argv[2:2] = ["--baseline", BASELINE]
    res = dataclasses.replace(ctx.runner, echo=False).run(
        argv, mutating=True, cwd=ctx.root, timeout=ctx.settings.checks.tool_timeout_seconds
    )
    text = path.read_text() if path.is_file() and "--baseline" in argv else res.stdout
    data = json.loads(text)
    for plugin in data.get("plugins_used", []):  # keep the baseline portable: the plugin path relative
        if plugin.get("path", "").endswith(PLUGINS.name):
            plugin["path"] = f"file://{PLUGINS.relative_to(ctx.root) if PLUGINS.is_relative_to(ctx.root) else PLUGINS}"
    data.pop("generated_at", None)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
