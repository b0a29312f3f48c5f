"""The production guard: changes to a confirming environment need --yes or an interactive yes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pmis_deploy.errors import ConfirmationRefused


def confirm(
    environment: str,
    *,
    required: bool,
    yes: bool,
    action: str,
    ask: Callable[[str], str] = input,
    interactive: bool | None = None,
) -> None:
    """Return when the change may go ahead; raise ConfirmationRefused otherwise."""
    if not required or yes:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise ConfirmationRefused(
            f"refusing to {action} {environment} from CI without --yes",
            hint="pass --yes in the workflow (the deploy workflow does, behind its environment approval)",
        )
    interactive = sys.stdin.isatty() if interactive is None else interactive
    if not interactive:
        raise ConfirmationRefused(f"refusing to {action} {environment} without confirmation", hint="pass --yes")
    answer = ask(f"{action} {environment}? type the environment name to confirm: ").strip()
    if answer != environment:
        raise ConfirmationRefused(f"not confirmed ({answer!r} is not {environment!r}); nothing was changed")
