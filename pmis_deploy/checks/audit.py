"""Dependency audit: pip-audit on each Python app's requirements and on this repository's environment,
npm audit on apps/web's lockfile, with the severity threshold from settings.checks.

Both tools fail open when their advisory service is unreachable: pip-audit prints "No known
vulnerabilities found" and exits 0 although every dependency "could not be audited"; npm audit exits 1
with the registry's HTTP error. Both are reported as UNAVAILABLE (with the reason), never as PASS.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.checks.settings import Severity
from pmis_deploy.checks.tools import find_tool, missing, stderr_tail

SEVERITY_ORDER = ("info", "low", "moderate", "high", "critical")
PIP_AUDIT_ARGS = ("--no-deps", "--disable-pip", "--format", "json", "--progress-spinner", "off")
_NETWORK_ERROR = re.compile(
    r"(NameResolutionError|ConnectionError|Max retries exceeded|timed out|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|"
    r"ETIMEDOUT|getaddrinfo|Network is unreachable)",
    re.IGNORECASE,
)
SELF = "pmis-deploy"


OFFLINE = "not run: checks.offline is set (no advisory service may be contacted)"


def check(ctx: CheckContext) -> Verdict:
    threshold = ctx.settings.checks.audit_severity_threshold
    if ctx.settings.checks.offline:
        return Verdict(Outcome.UNAVAILABLE, OFFLINE)
    subchecks = [pip_audit(ctx, rel, path) for rel, path in python_requirements(ctx.root)]
    subchecks.append(pip_audit_environment(ctx))
    lock = ctx.root / "apps" / "web" / "package-lock.json"
    if lock.is_file():
        subchecks.append(npm_audit(ctx, lock.parent, threshold))
    elif (ctx.root / "apps" / "web" / "package.json").is_file():
        subchecks.append(
            SubCheck(
                "npm audit apps/web", Outcome.FAIL, "no package-lock.json: commit it (npm install --package-lock-only)"
            )
        )
    return verdict(subchecks, f"severity threshold: {threshold.value} (npm); pip-audit reports no severities")


def python_requirements(root: Path) -> list[tuple[str, Path]]:
    """(label, file): apps/<app>/requirements.txt of every app that has one."""
    return [(str(p.relative_to(root)), p) for p in sorted((root / "apps").glob("*/requirements.txt"))]


def pip_audit(ctx: CheckContext, label: str, requirements: Path) -> SubCheck:
    """Audit one requirements file; unpinned lines are audited at the version installed here."""
    pinned, notes = pin_requirements(requirements.read_text().splitlines())
    return _pip_audit_pins(ctx, f"pip-audit {label}", pinned, notes)


def pip_audit_environment(ctx: CheckContext) -> SubCheck:
    """Audit this repository's own dependencies, as installed in the running environment."""
    return _pip_audit_pins(ctx, "pip-audit pmis-deploy (installed environment)", installed_pins())


def _pip_audit_pins(ctx: CheckContext, name: str, pins: list[str], notes: list[str] | None = None) -> SubCheck:
    """Run pip-audit on exact `pins` (name==version lines); `notes` say how they were pinned."""
    tool = find_tool("pip-audit")
    if tool is None:
        return SubCheck(name, Outcome.UNAVAILABLE, missing("pip-audit"))
    with tempfile.TemporaryDirectory(prefix="pmis-audit-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text("\n".join(pins) + "\n")
        res = ctx.run_tool([tool, "-r", str(req), *PIP_AUDIT_ARGS])
    sub = parse_pip_audit(name, res.stdout, res.stderr, res.returncode)
    if notes:
        sub.note = f"{sub.note}; {'; '.join(notes)}"
    return sub


def installed_pins() -> list[str]:
    """name==version of every distribution installed here, except this project itself."""
    pins: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"]
        if dist_name and _canonical(dist_name) != SELF:
            pins.setdefault(_canonical(dist_name), f"{dist_name}=={dist.version}")
    return sorted(pins.values(), key=str.lower)


def pin_requirements(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """Pin each unpinned requirement to the installed version (pip-audit --no-deps needs exact pins)."""
    from packaging.requirements import InvalidRequirement, Requirement

    out: list[str] = []
    unpinned: list[str] = []
    not_installed: list[str] = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(line)
            continue
        if any(spec.operator in ("==", "===") for spec in req.specifier):
            out.append(line)
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            not_installed.append(req.name)
            continue
        unpinned.append(f"{req.name}=={version}")
        out.append(f"{req.name}=={version}")
    notes = []
    if unpinned:
        notes.append(f"{len(unpinned)} unpinned requirement(s) audited at the installed version")
    if not_installed:
        notes.append("not pinned and not installed here, so not audited: " + ", ".join(not_installed))
    return out, notes


def parse_pip_audit(name: str, stdout: str, stderr: str, returncode: int) -> SubCheck:
    """pip-audit's JSON → a sub-check. Skipped dependencies mean the audit did not happen: UNAVAILABLE."""
    try:
        data = json.loads(stdout)
        deps: list[dict[str, Any]] = data["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        tail = stderr_tail(stderr)
        if _NETWORK_ERROR.search(stderr):
            return SubCheck(name, Outcome.UNAVAILABLE, f"advisory service unreachable: {tail}")
        return SubCheck(name, Outcome.FAIL, f"pip-audit failed (exit {returncode}) without a report: {tail}")
    findings = [
        Finding(
            f"{dep['name']}=={dep.get('version', '?')}",
            f"{vuln['id']}"
            + (f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else "")
            + (f": fixed in {', '.join(vuln['fix_versions'])}" if vuln.get("fix_versions") else ": no fix yet"),
            "vulnerability",
        )
        for dep in deps
        for vuln in dep.get("vulns", [])
    ]
    skipped = [dep for dep in deps if "skip_reason" in dep]
    audited = len(deps) - len(skipped)
    counts = f"{audited} of {len(deps)} dependencies audited"
    if findings:
        extra = f"; {len(skipped)} could not be audited" if skipped else ""
        return SubCheck(name, Outcome.FAIL, f"{len(findings)} known vulnerabilities; {counts}{extra}", findings)
    if skipped:
        reason = skipped[0]["skip_reason"]
        why = "the advisory service could not be reached or does not know them" if audited == 0 else "see the reasons"
        return SubCheck(
            name,
            Outcome.UNAVAILABLE,
            f"{counts}: {len(skipped)} could not be audited ({why}; first: {reason}). "
            "pip-audit still says 'No known vulnerabilities found' and exits 0: that is not a pass. "
            "Run it where https://pypi.org/pypi/<name>/<version>/json (or api.osv.dev with -s osv) is reachable",
        )
    if returncode != 0:
        return SubCheck(name, Outcome.FAIL, f"pip-audit exited {returncode}; {counts}")
    return SubCheck(name, Outcome.PASS, f"{counts}, no known vulnerabilities")


def npm_audit(ctx: CheckContext, web: Path, threshold: Severity) -> SubCheck:
    name = f"npm audit {web.relative_to(ctx.root)}"
    tool = find_tool("npm")
    if tool is None:
        return SubCheck(name, Outcome.UNAVAILABLE, missing("npm"))
    res = ctx.run_tool([tool, "audit", "--json", "--package-lock-only"], cwd=web)
    return parse_npm_audit(name, res.stdout, res.stderr, res.returncode, threshold)


def parse_npm_audit(name: str, stdout: str, stderr: str, returncode: int, threshold: Severity) -> SubCheck:
    """npm audit's JSON (report v2, or the error object it prints when the registry refuses) → a sub-check."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        tail = stderr_tail(stderr)
        return SubCheck(name, Outcome.UNAVAILABLE, f"npm audit gave no report (exit {returncode}): {tail}")
    if "vulnerabilities" not in data or "error" in data:
        message = data.get("message") or (data.get("error") or {}).get("summary") or "no report"
        status = data.get("statusCode")
        code = (data.get("error") or {}).get("code")
        what = f"HTTP {status}" if status else (code or f"exit {returncode}")
        return SubCheck(
            name,
            Outcome.UNAVAILABLE,
            f"the npm advisory service did not answer ({what}: {message}); run it where registry.npmjs.org "
            "audit endpoints are reachable",
        )
    limit = SEVERITY_ORDER.index(threshold.value)
    findings: list[Finding] = []
    below = 0
    for pkg, vuln in sorted(data["vulnerabilities"].items()):
        severity = vuln.get("severity", "info")
        rank = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER) - 1
        if rank < limit:
            below += 1
            continue
        titles = [v["title"] for v in vuln.get("via", []) if isinstance(v, dict) and "title" in v]
        fix = "fix available" if vuln.get("fixAvailable") else "no fix available"
        message = (titles[0] if titles else "via " + ", ".join(map(str, vuln.get("via", [])))) + f" ({fix})"
        findings.append(Finding(f"{pkg} {vuln.get('range', '')}".strip(), message, severity))
    counts = data.get("metadata", {}).get("vulnerabilities", {})
    total = counts.get("total", len(data["vulnerabilities"]))
    note = f"{total} advisories; {below} below the {threshold.value} threshold"
    if findings:
        return SubCheck(name, Outcome.FAIL, f"{len(findings)} at or above {threshold.value}; {note}", findings)
    return SubCheck(name, Outcome.PASS, note)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
