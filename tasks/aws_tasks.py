"""AWS tasks contributed to the shared namespaces: `inv provision.aws` (and the deploy flow's tasks).

BY_NAMESPACE maps a namespace to the task(s) named "aws" in it; tasks/__init__.py mounts them.
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


@task(name="aws", help={"env": ENV_HELP, "dry_run": DRY_RUN_HELP, "yes": YES_HELP})
def provision_aws(c: Context, env: str | None = None, dry_run: bool = False, yes: bool = False) -> None:
    """Converge the AWS infrastructure: network, RDS, Redis, secrets, ECR, IAM, ECS, ALB, alarms."""
    with reported():
        from pmis_deploy.aws.provision import converge

        result = converge(load(env).settings, dry_run=dry_run, yes=yes)
    if result.dry_run and result.changed:
        raise Exit(code=2)


@task(
    name="aws",
    help={
        "env": ENV_HELP,
        "tag": TAG_HELP,
        "dry_run": DRY_RUN_HELP,
        "yes": YES_HELP,
        "skip_checks": SKIP_CHECKS_HELP,
        "checks_report": CHECKS_REPORT_HELP,
        "allow_dirty": "allow uncommitted changes outside local (the tag says -dirty)",
        "wait": WAIT_HELP,
    },
)
def deploy_aws(
    c: Context,
    env: str | None = None,
    tag: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    skip_checks: str | None = None,
    checks_report: str | None = None,
    allow_dirty: bool = False,
    wait: int = 0,
) -> None:
    """Release to ECS: lock, gate, build/push, provision, migrate, roll out, health check, record."""
    with reported():
        from pmis_deploy import console
        from pmis_deploy.aws.deploy import DeployRequest, deploy
        from pmis_deploy.pipeline import render_summary

        request = DeployRequest(
            tag=tag,
            dry_run=dry_run,
            yes=yes,
            skip_checks=skip_checks,
            checks_report=checks_report,
            allow_dirty=allow_dirty,
            wait_seconds=wait,
        )
        record, code = deploy(load(env), request)
        console.result(render_summary(record, dry_run=dry_run))
    if code:
        raise Exit(code=code)


@task(
    name="aws",
    help={
        "env": ENV_HELP,
        "to": TO_HELP,
        "dry_run": DRY_RUN_HELP,
        "yes": YES_HELP,
        "wait": WAIT_HELP,
    },
)
def rollback_aws(
    c: Context, env: str | None = None, to: str | None = None, dry_run: bool = False, yes: bool = False, wait: int = 0
) -> None:
    """Put every ECS service back on a previous good release's task definitions and wait."""
    with reported():
        from pmis_deploy import console
        from pmis_deploy.aws.rollback import RollbackRequest, rollback
        from pmis_deploy.pipeline import render_summary

        request = RollbackRequest(to=to, dry_run=dry_run, yes=yes, wait_seconds=wait)
        record, code = rollback(load(env), request)
        console.result(render_summary(record, dry_run=dry_run))
    if code:
        raise Exit(code=code)


@task(name="aws", help={"env": ENV_HELP, "json": JSON_HELP})
def status_aws(c: Context, env: str | None = None, json: bool = False) -> None:
    """ECS services (running/desired, rollout), the current release and recent releases."""
    with reported():
        from pmis_deploy.aws.session import AwsClients
        from pmis_deploy.aws.status import collect, render

        settings = load(env).settings
        render(collect(AwsClients.for_settings(settings), settings), as_json=json)


BY_NAMESPACE = {
    "provision": provision_aws,
    "deploy": deploy_aws,
    "rollback": rollback_aws,
    "status": status_aws,
}
