"""Images: hadolint on every Dockerfile, `trivy config` on the Dockerfiles and the compose file, and
`trivy image` on the images built for this release (by digest).

Without trivy the trivy parts are UNAVAILABLE (with how to install it); a hadolint failure is still a
FAIL. Without images for this release the image scan is UNAVAILABLE — unless the caller defers it
(ctx.defer_image_scan: a deploy that runs gate.scan_images on the pushed digests before rolling out),
in which case the details say it was deferred. Nothing is reported as scanned that was not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.checks.settings import LintLevel
from pmis_deploy.checks.tools import find_tool, missing, stderr_tail

COMPOSE_FILE = "docker-compose.prod.yml"
DEFERRED = "trivy image: deferred (the deploy scans the release's images by digest after pushing them)"
LINT_ORDER = ("style", "info", "warning", "error")
TRIVY_ORDER = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
TRIVY_SEVERITY = {"low": "LOW", "moderate": "MEDIUM", "high": "HIGH", "critical": "CRITICAL"}
_DB_UNREACHABLE = re.compile(
    r"(failed to download|DB error|dial tcp|no such host|i/o timeout|connection refused|TLS handshake|"
    r"could not resolve|Network is unreachable|OCI repository)",
    re.IGNORECASE,
)


def dockerfiles(root: Path) -> list[Path]:
    """The services' Dockerfiles: apps/<app>/Dockerfile* and any at the root."""
    found = [*root.glob("apps/*/Dockerfile*"), *root.glob("Dockerfile*")]
    return sorted(p for p in found if p.is_file() and not p.name.endswith((".dockerignore", ".md")))


def check(ctx: CheckContext) -> Verdict:
    files = dockerfiles(ctx.root)
    subchecks: list[SubCheck] = []
    if not files:
        subchecks.append(SubCheck("Dockerfiles", Outcome.FAIL, "no apps/*/Dockerfile found: nothing to build"))
    else:
        subchecks.append(hadolint(ctx, files))
    trivy = find_tool("trivy")
    threshold = TRIVY_SEVERITY[ctx.settings.checks.audit_severity_threshold.value]
    compose = ctx.root / COMPOSE_FILE
    config_targets = [*files, *([compose] if compose.is_file() else [])]
    preface = DEFERRED if ctx.defer_image_scan and not ctx.images else ""
    if trivy is None or ctx.settings.checks.offline:
        offline = "not run: checks.offline is set (trivy downloads its database)"
        why = offline if ctx.settings.checks.offline else missing("trivy")
        subchecks.append(SubCheck("trivy config + image", Outcome.UNAVAILABLE, why))
        return verdict(subchecks, preface)
    subchecks.extend(trivy_config(ctx, trivy, target, threshold) for target in config_targets)
    if not ctx.images and ctx.defer_image_scan:
        return verdict(subchecks, DEFERRED)
    if not ctx.images:
        subchecks.append(
            SubCheck(
                "trivy image",
                Outcome.UNAVAILABLE,
                "no images built for this release were given: the deploy passes them to the gate after the "
                "build; by hand: inv checks.images --image api=<repo>@sha256:…",
            )
        )
    for service, ref in sorted(ctx.images.items()):
        subchecks.append(trivy_image(ctx, trivy, service, ref, threshold))
    return verdict(subchecks)


def hadolint(ctx: CheckContext, files: Sequence[Path]) -> SubCheck:
    tool = find_tool("hadolint")
    name = f"hadolint ({len(files)} Dockerfiles)"
    if tool is None:
        return SubCheck(name, Outcome.UNAVAILABLE, missing("hadolint"))
    rels = [str(p.relative_to(ctx.root)) for p in files]
    res = ctx.run_tool([tool, "--format", "json", "--no-fail", *rels])
    return parse_hadolint(name, res.stdout, res.stderr, res.returncode, ctx.settings.checks.hadolint_threshold)


def parse_hadolint(name: str, stdout: str, stderr: str, returncode: int, threshold: LintLevel) -> SubCheck:
    try:
        items: list[dict[str, Any]] = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        return SubCheck(name, Outcome.FAIL, f"hadolint failed (exit {returncode}): {stderr.strip()[-300:]}")
    if returncode != 0 and not items:
        return SubCheck(name, Outcome.FAIL, f"hadolint failed (exit {returncode}): {stderr.strip()[-300:]}")
    limit = LINT_ORDER.index(threshold.value)
    findings = [
        Finding(f"{i['file']}:{i['line']}", f"{i['code']} {i['message']}", i["level"])
        for i in items
        if LINT_ORDER.index(i.get("level", "error")) >= limit
    ]
    note = f"{len(items)} finding(s), {len(findings)} at or above {threshold.value}"
    return SubCheck(name, Outcome.FAIL if findings else Outcome.PASS, note, findings)


def trivy_config(ctx: CheckContext, trivy: str, target: Path, threshold: str) -> SubCheck:
    rel = str(target.relative_to(ctx.root))
    res = ctx.run_tool([trivy, "config", "--format", "json", "--exit-code", "0", "--quiet", rel])
    return parse_trivy(f"trivy config {rel}", res.stdout, res.stderr, res.returncode, threshold)


def trivy_image(ctx: CheckContext, trivy: str, service: str, ref: str, threshold: str) -> SubCheck:
    name = f"trivy image {service}"
    if "@sha256:" not in ref:
        return SubCheck(name, Outcome.FAIL, f"{ref} is not pinned by digest: scan exactly what ships (<repo>@sha256:…)")
    res = ctx.run_tool([trivy, "image", "--format", "json", "--exit-code", "0", "--quiet", ref])
    return parse_trivy(name, res.stdout, res.stderr, res.returncode, threshold)


def parse_trivy(name: str, stdout: str, stderr: str, returncode: int, threshold: str) -> SubCheck:
    """trivy's JSON report (image vulnerabilities or config misconfigurations) → a sub-check."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        tail = stderr_tail(stderr)
        if _DB_UNREACHABLE.search(stderr):
            return SubCheck(name, Outcome.UNAVAILABLE, f"trivy could not get its database: {tail}")
        return SubCheck(name, Outcome.FAIL, f"trivy failed (exit {returncode}): {tail}")
    limit = TRIVY_ORDER.index(threshold)
    findings: list[Finding] = []
    total = 0
    for result in report.get("Results") or []:
        target = result.get("Target", "?")
        for vuln in result.get("Vulnerabilities") or []:
            total += 1
            if _rank(vuln.get("Severity")) >= limit:
                fixed = vuln.get("FixedVersion") or "no fix yet"
                findings.append(
                    Finding(
                        f"{target}: {vuln.get('PkgName')} {vuln.get('InstalledVersion')}",
                        f"{vuln.get('VulnerabilityID')} (fixed in {fixed})",
                        vuln.get("Severity"),
                    )
                )
        for mis in result.get("Misconfigurations") or []:
            if mis.get("Status", "FAIL") != "FAIL":
                continue
            total += 1
            if _rank(mis.get("Severity")) >= limit:
                line = (mis.get("CauseMetadata") or {}).get("StartLine")
                where = f"{target}:{line}" if line else target
                findings.append(Finding(where, f"{mis.get('ID')} {mis.get('Title')}", mis.get("Severity")))
    note = f"{total} finding(s), {len(findings)} at or above {threshold}"
    return SubCheck(name, Outcome.FAIL if findings else Outcome.PASS, note, findings)


def _rank(severity: str | None) -> int:
    return TRIVY_ORDER.index(severity) if severity in TRIVY_ORDER else 0
