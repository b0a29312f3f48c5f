"""GCP tasks contributed to the shared namespaces: `inv provision.gcp`, `deploy.gcp`, `rollback.gcp`,
`status.gcp`. Everything goes through the gcloud CLI (pmis_deploy.gcp); `--env local` (the default)
drives the real gcloud against the embedded fake of the GCP APIs.
"""

from __future__ import annotations

from invoke import Context, task
from invoke.exceptions import Exit

from tasks._common import (
    CHECKS_REPORT_HELP,
    DRY_RUN_HELP,
    ENV_HELP,
    JSON_HELP,
    SKIP_CHECKS_HELP,
    TAG_HELP,
    TO_HELP,
    WAIT_HELP,
    YES_HELP,
    load,
    reported,
)


@task(name="gcp", help={"env": ENV_HELP, "dry_run": DRY_RUN_HELP, "yes": YES_HELP})
def provision_gcp(c: Context, env: str | None = None, dry_run: bool = False, yes: bool = False) -> None:
    """Converge the GCP infrastructure: APIs, Cloud SQL, Memorystore, registry, IAM, secrets, monitoring."""
    with reported():
        from pmis_deploy.gcp.provision import converge

        code = converge(load(env).settings, dry_run=dry_run, yes=yes)
    if code:
        raise Exit(code=code)


@task(
    name="gcp",
    help={
        "env": ENV_HELP,
        "tag": TAG_HELP,
        "dry_run": DRY_RUN_HELP,
        "yes": YES_HELP,
        "skip_checks": SKIP_CHECKS_HELP,
        "checks_report": CHECKS_REPORT_HELP,
        "wait": WAIT_HELP,
    },
)
def deploy_gcp(
    c: Context,
    env: str | None = None,
    tag: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    skip_checks: str | None = None,
    checks_report: str | None = None,
    wait: int = 0,
) -> None:
    """Release the current commit to Cloud Run: lock, gate, images, provision, migrate, roll out, record."""
    with reported():
        from pmis_deploy.console import result
        from pmis_deploy.gcp.deploy import deploy

        outcome = deploy(
            load(env),
            tag=tag,
            dry_run=dry_run,
            yes=yes,
            skip_gate=skip_checks,
            checks_report=checks_report,
            lock_wait=wait,
        )
        result(outcome.summary)
    if outcome.exit_code:
        raise Exit(code=outcome.exit_code)


@task(
    name="gcp",
    help={
        "env": ENV_HELP,
        "to": TO_HELP,
        "dry_run": DRY_RUN_HELP,
        "yes": YES_HELP,
    },
)
def rollback_gcp(
    c: Context, env: str | None = None, to: str | None = None, dry_run: bool = False, yes: bool = False
) -> None:
    """Move every Cloud Run service's traffic back to the revisions of a previous good release."""
    with reported():
        from pmis_deploy.console import result
        from pmis_deploy.gcp.rollback import rollback

        _, code, summary = rollback(load(env), to=to, dry_run=dry_run, yes=yes)
        result(summary)
    if code:
        raise Exit(code=code)


@task(name="gcp", help={"env": ENV_HELP, "json": JSON_HELP})
def status_gcp(c: Context, env: str | None = None, json: bool = False) -> None:
    """Cloud Run services, revisions, traffic, jobs, recent releases and the deploy lock."""
    with reported():
        from pmis_deploy.gcp import status
        from pmis_deploy.gcp.context import Ctx

        data = status.collect(Ctx.for_settings(load(env).settings, echo=False))
        if json:
            import json as json_

            from pmis_deploy.console import result

            result(json_.dumps(data, indent=2, default=str))
        else:
            status.render(data)


BY_NAMESPACE = {"provision": provision_gcp, "deploy": deploy_gcp, "rollback": rollback_gcp, "status": status_gcp}
