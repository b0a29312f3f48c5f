"""The checklist: every item of the runbook's "Pre-Deployment Checklist", and the check that answers it.

A check is `module:function` taking a CheckContext and returning a Verdict; it is imported only when it
runs, so listing the checklist stays cheap. Items a tool cannot decide (load testing, disaster recovery,
monitoring) are answered by evidence files the team commits (see evidence/README.md).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pmis_deploy.checks.outcome import CheckContext, Verdict
from pmis_deploy.errors import ConfigError

# The runbook's checklist, verbatim (production-deployment-guide.md, "Pre-Deployment Checklist").
RUNBOOK_ITEMS = (
    "All tests pass",
    "No secrets in code or `.env` files committed",
    "Docker images build successfully",
    "docker-compose.prod.yml runs locally without errors",
    "Environment variables documented in `ENV_VARS.md`",
    "Database migration scripts created",
    "Monitoring/logging configured",
    "Load testing completed (k6, Apache JMeter)",
    "Security scanning passed (Snyk, Trivy)",
    "Disaster recovery plan documented",
)
NOT_IN_RUNBOOK = "(added) CI and deploy workflows are valid"


@dataclass(frozen=True)
class Item:
    """One check: its name (`inv checks.<name>`), the runbook items it answers, and how to run it."""

    name: str
    runbook: tuple[str, ...]
    target: str  # "module:function" under pmis_deploy.checks
    network: bool = False  # needs an advisory service / database download
    slow: bool = False  # takes minutes (runs test suites)
    evidence: str | None = None  # the evidence file answering a manual item

    @property
    def title(self) -> str:
        return "; ".join(self.runbook)

    def function(self) -> Callable[[CheckContext], Verdict]:
        module, _, attr = self.target.partition(":")
        fn: Callable[[CheckContext], Verdict] = getattr(importlib.import_module(f"pmis_deploy.checks.{module}"), attr)
        return fn


CHECKLIST: tuple[Item, ...] = (
    Item("tests", (RUNBOOK_ITEMS[0],), "tests_check:check", slow=True),
    Item("secrets", (RUNBOOK_ITEMS[1],), "secrets_check:check"),
    Item("images", (RUNBOOK_ITEMS[2], RUNBOOK_ITEMS[8]), "images:check", network=True),
    Item("compose", (RUNBOOK_ITEMS[3],), "compose:check"),
    Item("env-docs", (RUNBOOK_ITEMS[4],), "env_docs:check"),
    Item("migrations", (RUNBOOK_ITEMS[5],), "migrations:check"),
    Item("monitoring", (RUNBOOK_ITEMS[6],), "evidence:monitoring", evidence="monitoring.md"),
    Item("load-testing", (RUNBOOK_ITEMS[7],), "evidence:load_testing", evidence="load-testing.md"),
    Item("audit", (RUNBOOK_ITEMS[8],), "audit:check", network=True),
    Item("disaster-recovery", (RUNBOOK_ITEMS[9],), "evidence:disaster_recovery", evidence="disaster-recovery.md"),
    Item("workflows", (NOT_IN_RUNBOOK,), "workflows:check"),
)
BY_NAME = {item.name: item for item in CHECKLIST}
GROUPS = {
    "all": tuple(item.name for item in CHECKLIST),
    "security": ("secrets", "audit", "images"),
}


def resolve(names: Iterable[str], *, origin: str = "checks") -> list[Item]:
    """Expand groups ("all", "security") and check names into items, in checklist order, once each."""
    wanted: set[str] = set()
    for name in names:
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in BY_NAME:
            wanted.add(name)
        else:
            options = [*GROUPS, *BY_NAME]
            close = difflib.get_close_matches(name, options, n=1)
            raise ConfigError(
                f"{origin}: {name!r} is not a check" + (f" (did you mean {close[0]}?)" if close else ""),
                hint=f"use one of: {', '.join(options)}",
            )
    return [item for item in CHECKLIST if item.name in wanted]
