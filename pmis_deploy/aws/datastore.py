"""What the RDS (database.py) and ElastiCache (cache.py) modules share: a subnet group on the private
subnets, converged to the current private subnets, and waiting for the store to become available."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws.plan import Change, waiter_config

if TYPE_CHECKING:
    from pmis_deploy.config import Settings


def subnet_group_changes(
    resource: str,
    current: dict[str, Any] | None,
    subnets: list[str],
    create: Callable[[], Any],
    update: Callable[[], Any],
) -> list[Change]:
    """Create the subnet group `resource` if `current` is None, else update it when its subnets differ."""
    if current is None:
        return [Change(resource, "create", f"{len(subnets)} private subnets", create)]
    if sorted(s["SubnetIdentifier"] for s in current["Subnets"]) != sorted(subnets):
        return [Change(resource, "update", f"subnets → {', '.join(sorted(subnets))}", update)]
    return []


def describe_when_available(
    describe: Callable[[], dict[str, Any] | None],
    status_key: str,
    client: Any,
    waiter: str,
    resource: str,
    settings: Settings,
    *,
    wait: bool,
    **identifier: str,
) -> dict[str, Any] | None:
    """`describe()` (None: it does not exist); with `wait`, first wait with `client`'s `waiter` until the
    status under `status_key` is "available" (the description after waiting, or the one before)."""
    current = describe()
    if current is None or not wait or current.get(status_key) == "available":
        return current
    from pmis_deploy.console import info

    info(f"waiting for {resource} to be available (status {current.get(status_key)})")
    client.get_waiter(waiter).wait(WaiterConfig=waiter_config(settings), **identifier)
    return describe() or current
