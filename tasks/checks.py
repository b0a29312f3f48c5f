"""`inv checks.*`: the pre-deployment checklist, item by item or as a whole (exit 1 unless all PASS/WAIVED)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from tasks._common import ENV_HELP, load, reported

if TYPE_CHECKING:
    from pmis_deploy.checks.outcome import CheckContext

JSON_PATH_HELP = "also write the results as JSON to this path"
HELP = {"env": ENV_HELP, "json": JSON_PATH_HELP}
IMAGE_HELP = {
    **HELP,
    "image": "SERVICE=IMAGE@sha256:DIGEST of this release, for the image scan (repeatable)",
    "defer_image_scan": "leave the image scan to the deploy (it scans the pushed digests before rolling out)",
}


def _run(
    names: list[str], env: str | None, json: str | None, images: list[str] | None = None, defer: bool = False
) -> None:
    with reported():
        from pmis_deploy.checks.report import run_named

        report = run_named(load(env), names, json_path=json, images=images or (), defer_image_scan=defer)
        if not report.passed:
            raise Exit(code=1)


@task(help=HELP)
def tests(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Run the api, worker and repository test suites."""
    _run(["tests"], env, json)


@task(help={**HELP, "update_baseline": "rewrite .secrets.baseline from the tracked files (review it, commit it)"})
def secrets(c: Context, env: str | None = None, json: str | None = None, update_baseline: bool = False) -> None:
    """Scan tracked files for secrets (detect-secrets + .secrets.baseline)."""
    if update_baseline:
        with reported():
            from pmis_deploy.checks.secrets_check import update_baseline as update

            print(f"wrote {update(_context(env))}: review new entries (detect-secrets audit), then commit it")
        return
    _run(["secrets"], env, json)


@task(help=HELP)
def audit(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Audit dependencies: pip-audit (apps, this repo) and npm audit (apps/web)."""
    _run(["audit"], env, json)


@task(iterable=["image"], help=IMAGE_HELP)
def images(
    c: Context,
    env: str | None = None,
    json: str | None = None,
    image: list[str] | None = None,
    defer_image_scan: bool = False,
) -> None:
    """Lint Dockerfiles (hadolint) and scan configs and release images (trivy)."""
    _run(["images"], env, json, image, defer_image_scan)


@task(help=HELP)
def compose(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Validate docker-compose.prod.yml (schema, services, healthchecks, no literal secrets)."""
    _run(["compose"], env, json)


@task(name="env-docs", help=HELP)
def env_docs(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Check ENV_VARS.md documents every variable read, and only those."""
    _run(["env-docs"], env, json)


@task(help=HELP)
def migrations(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Check one Alembic head, clean imports, and models = migrations."""
    _run(["migrations"], env, json)


@task(help=HELP)
def workflows(c: Context, env: str | None = None, json: str | None = None) -> None:
    """Lint the GitHub workflows (actionlint, workflow schema)."""
    _run(["workflows"], env, json)


@task(iterable=["image"], help=IMAGE_HELP)
def security(
    c: Context,
    env: str | None = None,
    json: str | None = None,
    image: list[str] | None = None,
    defer_image_scan: bool = False,
) -> None:
    """Run the security checks: secrets, audit, images."""
    _run(["security"], env, json, image, defer_image_scan)


@task(name="all", default=True, iterable=["image"], help=IMAGE_HELP)
def all_(
    c: Context,
    env: str | None = None,
    json: str | None = None,
    image: list[str] | None = None,
    defer_image_scan: bool = False,
) -> None:
    """Run the whole pre-deployment checklist (one table; exit 1 unless every item is PASS or WAIVED)."""
    _run(["all"], env, json, image, defer_image_scan)


def _context(env: str | None) -> CheckContext:
    from pmis_deploy.checks.outcome import CheckContext
    from pmis_deploy.shell import Runner

    loaded = load(env)
    return CheckContext(loaded.root, loaded.settings, Runner())


ns = Collection("checks", tests, secrets, audit, images, compose, env_docs, migrations, workflows, security, all_)
