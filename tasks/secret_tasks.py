"""`inv secrets.*`: the environment's secrets in AWS Secrets Manager (values never printed or passed as arguments)."""

from __future__ import annotations

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from tasks._common import DRY_RUN_HELP, ENV_HELP, YES_HELP, load, reported

NAME_HELP = "secret to set: azure-openai-key or redis-auth-token (the others are built by provision.aws)"
STDIN_HELP = "read the value from stdin (e.g. piped from a password manager) instead of an echo-less prompt"


@task(
    name="set",
    help={"name": NAME_HELP, "env": ENV_HELP, "from_stdin": STDIN_HELP, "dry_run": DRY_RUN_HELP, "yes": YES_HELP},
)
def set_secret(
    c: Context, name: str, env: str | None = None, from_stdin: bool = False, dry_run: bool = False, yes: bool = False
) -> None:
    """Store a secret's value (read without echo); a new version only when it changed."""
    with reported():
        from pmis_deploy.aws import secrets
        from pmis_deploy.aws.session import AwsClients
        from pmis_deploy.console import result, success
        from pmis_deploy.guard import confirm

        settings = load(env).settings
        value = secrets.read_value(from_stdin=from_stdin)
        if not dry_run:
            confirm(settings.environment.value, required=settings.deploy.confirm, yes=yes, action=f"set {name} in")
        change = secrets.set_secret(AwsClients.for_settings(settings, dry_run=dry_run), settings, name, value)
        if change is None:
            result("no changes")
        else:
            (result if dry_run else success)(f"{change.resource}: {change.detail}" + (" (planned)" if dry_run else ""))
    if dry_run and change is not None:
        raise Exit(code=2)


@task(name="list", help={"env": ENV_HELP})
def list_(c: Context, env: str | None = None) -> None:
    """List the environment's secrets: whether each has a value and when it last changed (never values)."""
    with reported():
        from pmis_deploy.aws import secrets
        from pmis_deploy.aws.session import AwsClients
        from pmis_deploy.console import table

        settings = load(env).settings
        rows = secrets.list_secrets(AwsClients.for_settings(settings), settings)
        table(f"secrets of {settings.environment.value}", ["secret", "value", "last changed"], rows)


ns = Collection("secrets", set_secret, list_)
