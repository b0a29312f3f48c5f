"""`inv checks.*`: the pre-deployment checklist, item by item or as a whole (exit 1 unless all PASS/WAIVED)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection, Context, Task, task
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


def _check_task(check: str, doc: str) -> Task:
    """The task `checks.<check>`: run that check (exit 1 unless it passes); `doc` is its one-line help."""

    def run(c: Context, env: str | None = None, json: str | None = None) -> None:
        _run([check], env, json)

    run.__doc__ = doc
    return Task(run, name=check, help=HELP)


def _image_check_task(check: str, doc: str, *, default: bool = False) -> Task:
    """Like _check_task, for a check that includes the image scan (takes --image and --defer-image-scan)."""

    def run(
        c: Context,
        env: str | None = None,
        json: str | None = None,
        image: list[str] | None = None,
        defer_image_scan: bool = False,
    ) -> None:
        _run([check], env, json, image, defer_image_scan)

    run.__doc__ = doc
    return Task(run, name=check, default=default, iterable=["image"], help=IMAGE_HELP)


tests = _check_task("tests", "Run the api, worker and repository test suites.")


@task(help={**HELP, "update_baseline": "rewrite .secrets.baseline from the tracked files (review it, commit it)"})
def secrets(c: Context, env: str | None = None, json: str | None = None, update_baseline: bool = False) -> None:
    """Scan tracked files for secrets (detect-secrets + .secrets.baseline)."""
    if update_baseline:
        with reported():
            from pmis_deploy.checks.secrets_check import update_baseline as update

            print(f"wrote {update(_context(env))}: review new entries (detect-secrets audit), then commit it")
        return
    _run(["secrets"], env, json)


audit = _check_task("audit", "Audit dependencies: pip-audit (apps, this repo) and npm audit (apps/web).")
images = _image_check_task("images", "Lint Dockerfiles (hadolint) and scan configs and release images (trivy).")
compose = _check_task(
    "compose", "Validate docker-compose.prod.yml (schema, services, healthchecks, no literal secrets)."
)
env_docs = _check_task("env-docs", "Check ENV_VARS.md documents every variable read, and only those.")
migrations = _check_task("migrations", "Check one Alembic head, clean imports, and models = migrations.")
workflows = _check_task("workflows", "Lint the GitHub workflows (actionlint, workflow schema).")
security = _image_check_task("security", "Run the security checks: secrets, audit, images.")
all_ = _image_check_task(
    "all",
    "Run the whole pre-deployment checklist (one table; exit 1 unless every item is PASS or WAIVED).",
    default=True,
)


def _context(env: str | None) -> CheckContext:
    from pmis_deploy.checks.outcome import CheckContext
    from pmis_deploy.shell import Runner

    loaded = load(env)
    return CheckContext(loaded.root, loaded.settings, Runner())


ns = Collection("checks", tests, secrets, audit, images, compose, env_docs, migrations, workflows, security, all_)
