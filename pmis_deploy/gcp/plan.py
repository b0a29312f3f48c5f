"""Provision plans: changes grouped in phases (a phase's changes are independent and run concurrently).

A `Change` is the shared one (pmis_deploy.plan.Change: resource, action, detail, run). Phase 1
enables the APIs, phase 2 creates the resources, phase 3 fills them (databases, users, secrets and
their versions), phase 4 binds IAM roles on them, so a plan made before anything exists applies in one
pass. Changes that depend on each other within a phase form a chain (`Phases.chain`): they run one after
the other, alongside the phase's other changes (the private-IP network, then the SQL instance on it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pmis_deploy.plan import Change
from pmis_deploy.plan import apply as in_order

__all__ = ["Change", "Phases", "change"]

PHASES = (1, 2, 3, 4)


def change(resource: str, action: str, detail: str = "", run: Callable[[], Any] | None = None) -> Change:
    return Change(resource=resource, action=action, detail=detail, run=run)


@dataclass
class Phases:
    """Changes by phase."""

    by_phase: dict[int, list[Change]] = field(default_factory=lambda: {p: [] for p in PHASES})
    chains: dict[int, list[list[Change]]] = field(default_factory=lambda: {p: [] for p in PHASES})

    def add(self, phase: int, *changes: Change) -> None:
        self.by_phase[phase].extend(changes)

    def chain(self, phase: int, *changes: Change) -> None:
        """Add changes that must run in this order (each after the previous one succeeded)."""
        if changes:
            self.add(phase, *changes)
            self.chains[phase].append(list(changes))

    @property
    def changes(self) -> list[Change]:
        return [c for p in PHASES for c in self.by_phase[p]]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def apply(self, parallel: Callable[[list[Callable[[], Any]]], list[Any]]) -> None:
        """Apply phase by phase; within a phase, concurrently through `parallel`."""
        for p in PHASES:
            chained = {id(c) for chain in self.chains[p] for c in chain}
            runs = [c.run for c in self.by_phase[p] if c.run is not None and id(c) not in chained]
            runs += [functools.partial(in_order, chain) for chain in self.chains[p]]
            if runs:
                parallel(runs)
