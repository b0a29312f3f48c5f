"""AWS tasks contributed to the shared namespaces: `inv provision.aws` (and the deploy flow's tasks).

BY_NAMESPACE maps a namespace to the task(s) named "aws" in it; tasks/__init__.py mounts them.
"""

from __future__ import annotations

from invoke import Context, task
from invoke.exceptions import Exit

from tasks._common import DRY_RUN_HELP, ENV_HELP, YES_HELP, load, reported


@task(name="aws", help={"env": ENV_HELP, "dry_run": DRY_RUN_HELP, "yes": YES_HELP})
def provision_aws(c: Context, env: str | None = None, dry_run: bool = False, yes: bool = False) -> None:
    """Converge the AWS infrastructure: network, RDS, Redis, secrets, ECR, IAM, ECS, ALB, alarms."""
    with reported():
        from pmis_deploy.aws.provision import converge

        result = converge(load(env).settings, dry_run=dry_run, yes=yes)
    if result.dry_run and result.changed:
        raise Exit(code=2)


BY_NAMESPACE = {
    "provision": provision_aws,
}
