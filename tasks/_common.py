"""Helpers every task module shares: load settings, turn DeployError into invoke.Exit.

Kept free of heavy imports: pmis_deploy modules are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.exceptions import Exit

if TYPE_CHECKING:
    from pmis_deploy.config import LoadedSettings

F = TypeVar("F", bound=Callable[..., Any])

ENV_HELP = "environment: local (default, embedded emulators), staging or production"
DRY_RUN_HELP = "print the plan and change nothing (exit 0: no changes, 2: changes planned)"
YES_HELP = "confirm changes to a guarded environment (production) without asking"
JSON_HELP = "print machine-readable JSON instead of a table"
WAIT_HELP = "if another release holds the lock, wait up to this many seconds for it (default 0: refuse at once)"
SKIP_CHECKS_HELP = "skip the checklist gate; the REASON is recorded in the release"
CHECKS_REPORT_HELP = (
    "use this checklist report (inv checks.all --json FILE / nox -s predeploy) of this same tree instead of "
    "running the gate again; refused when stale, of another tree or environment, or incomplete"
)
TAG_HELP = "deploy this already-built image tag (default: the current commit, tagged by its SHA)"
TO_HELP = "release id to restore (default: the previous good one)"


@contextmanager
def reported() -> Iterator[None]:
    """Render a DeployError as a clean message and exit with its code."""
    from pmis_deploy.errors import DeployError
    from pmis_deploy.redaction import install_logging_filter

    install_logging_filter()
    try:
        yield
    except DeployError as exc:
        from pmis_deploy.console import error

        error(exc.render())
        raise Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("interrupted", code=130) from None


def load(env: str | None) -> LoadedSettings:
    from pmis_deploy.config import load_settings

    return load_settings(env)
