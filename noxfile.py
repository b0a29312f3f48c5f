"""Hermetic sessions: the same commands CI runs (`nox -l` lists them; `nox -s predeploy` is the gate).

Each session installs this project into its own environment (uv when available), reused between runs;
arguments after `--` are passed through: `nox -s tests -- tests/unit -k gate`.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHON = "3.11"
CODE = ["."]  # pyproject.toml excludes apps/web, .nox and .venv


def install(session: nox.Session, extras: str = "dev", *, editable: bool = True) -> None:
    """Install this project with `extras` into the session's environment."""
    spec = f".[{extras}]"
    session.install(*(["-e", spec] if editable else [spec]))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suites (this repository, apps/api, apps/worker) with pytest."""
    install(session)
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", *(session.posargs or CODE))
    session.run("ruff", "format", "--check", *(session.posargs or CODE))


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check pmis_deploy and tasks with mypy."""
    install(session)
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON)
def predeploy(session: nox.Session) -> None:
    """Run the whole pre-deployment checklist (inv checks.all) from a non-editable install."""
    install(session, editable=False)
    args = session.posargs or ["--env", "local"]
    session.run("inv", "checks.all", *args)


@nox.session(python=PYTHON)
def audit(session: nox.Session) -> None:
    """Audit the dependencies (pip-audit, npm audit) as inv checks.audit does."""
    install(session, editable=False)
    session.run("inv", "checks.audit", *(session.posargs or ["--env", "local"]))
