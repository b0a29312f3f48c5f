"""The planned-change value shared by the AWS and GCP provisioners (and rendered by both)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Action = str  # "create" | "update" | "delete"


@dataclass
class Change:
    """One planned change. `detail` is shown to the user and never holds a secret value."""

    resource: str
    action: Action
    detail: str = ""
    run: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def row(self) -> tuple[str, str, str]:
        return (self.action, self.resource, self.detail)


def apply(changes: list[Change]) -> None:
    """Apply planned changes in order."""
    for change in changes:
        if change.run is not None:
            change.run()
