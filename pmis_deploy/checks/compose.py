"""docker-compose.prod.yml: valid (compose-spec schema, and `docker compose config` when the plugin
exists), services api/worker/web with explicit image names and healthchecks, no literal secret values.

Nothing here starts containers: the details say the file was validated, not run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pmis_deploy.checks import schema
from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.checks.tools import find_tool

COMPOSE_FILE = "docker-compose.prod.yml"
REQUIRED_SERVICES = ("api", "worker", "web")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY)")
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$")
_URL_PASSWORD = re.compile(r"://[^:/@\s]*:(?P<pw>[^@\s]+)@")


def check(ctx: CheckContext) -> Verdict:
    path = ctx.root / COMPOSE_FILE
    if not path.is_file():
        return Verdict(Outcome.FAIL, f"{COMPOSE_FILE} not found", [Finding(COMPOSE_FILE, "missing")])
    subchecks = [schema.validate(ctx, "vendor.compose-spec", [path], "compose-spec schema")]
    preface = "validated, not run (the checklist starts no containers)"
    docker = find_tool("docker")
    if docker and ctx.runner.run([docker, "compose", "version"], mutating=False, check=False, timeout=30).ok:
        res = ctx.run_tool([docker, "compose", "-f", COMPOSE_FILE, "config", "--quiet"])
        outcome = Outcome.PASS if res.ok else Outcome.FAIL
        subchecks.append(SubCheck("docker compose config", outcome, res.stderr.strip()[-300:]))
    else:
        preface += "; `docker compose config` not run (no compose plugin): validity from the compose-spec schema"
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        subchecks.append(SubCheck("structure", Outcome.FAIL, f"not valid YAML: {exc}"))
        return verdict(subchecks, preface)
    findings = structure(data if isinstance(data, Mapping) else {})
    subchecks.append(
        SubCheck(
            "services api/worker/web: image, healthcheck, no literal secrets",
            Outcome.FAIL if findings else Outcome.PASS,
            f"{len(findings)} problem(s)",
            findings,
        )
    )
    return verdict(subchecks, preface)


def structure(data: Mapping[str, Any]) -> list[Finding]:
    """Required services with explicit images and healthchecks; no secret values written in the file."""
    findings: list[Finding] = []
    services = data.get("services") or {}
    for name in REQUIRED_SERVICES:
        where = f"{COMPOSE_FILE} services.{name}"
        service = services.get(name)
        if not isinstance(service, Mapping):
            findings.append(Finding(where, "service missing (api, worker and web are deployed)"))
            continue
        if not service.get("image"):
            findings.append(Finding(where, "no explicit `image:` (name the image the release pushes)"))
        health = service.get("healthcheck")
        if not isinstance(health, Mapping) or health.get("disable") or not health.get("test"):
            findings.append(Finding(where, "no healthcheck (`healthcheck: test: …`)"))
    for name, service in services.items():
        if isinstance(service, Mapping):
            findings.extend(literal_secrets(f"{COMPOSE_FILE} services.{name}.environment", service.get("environment")))
    return findings


def literal_secrets(where: str, environment: Any) -> list[Finding]:
    """Secret-named variables with literal values, and URLs with a literal password (names only, no values)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(environment, Mapping):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in environment.items()]
    elif isinstance(environment, list):
        for item in map(str, environment):
            key, _, value = item.partition("=")
            pairs.append((key, value))
    found = []
    for key, value in pairs:
        if not value or _REFERENCE.match(value):
            continue
        url_pw = _URL_PASSWORD.search(value)
        if url_pw and not _REFERENCE.match(url_pw["pw"]):
            found.append(Finding(f"{where}.{key}", "URL with a literal password: use ${VAR} from the environment"))
        elif SECRET_NAME.search(key.upper()) and not url_pw:
            found.append(Finding(f"{where}.{key}", "literal value for a secret: use ${VAR} or compose secrets"))
    return found
