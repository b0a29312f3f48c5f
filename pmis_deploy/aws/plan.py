"""The plan/apply model shared by every provisioning module.

Each concern module has `plan(aws, settings, …) -> list[Change]`, computed only from reads. A change
carries the closure that applies it; `apply(changes)` runs them in order. Closures may fill a shared
`Ids` mapping (a created security group's id) that later changes of the same plan read at run time,
so a plan made before anything exists still applies in one pass. In dry-run nothing is applied and
not-yet-existing ids read as placeholders like `<new pmis-local-api-sg>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pmis_deploy.plan import Action, Change, apply

__all__ = ["Action", "Change", "apply"]  # re-exported: the AWS modules import them from here


def placeholder(name: str) -> str:
    return f"<new {name}>"


def is_placeholder(value: str | None) -> bool:
    return bool(value) and str(value).startswith("<new ")


class Ids(dict[str, str]):
    """Ids by key; a missing one reads as a placeholder (dry-run) until a create closure sets it."""

    def __missing__(self, key: str) -> str:
        return placeholder(key)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def waiter_config(settings: Any) -> dict[str, int]:
    """The WaiterConfig for every waiter, from settings.aws.waiter_delay_seconds / waiter_max_minutes."""
    delay = settings.aws.waiter_delay_seconds
    return {"Delay": delay, "MaxAttempts": max(1, settings.aws.waiter_max_minutes * 60 // delay)}


def describe_one(describe: Callable[..., Any], key: str, missing: str, **request: Any) -> dict[str, Any] | None:
    """The first item of `describe(**request)[key]`, or None when AWS answers with the error code `missing`."""
    try:
        found = describe(**request)
    except Exception as exc:
        if error_code(exc) == missing:
            return None
        raise
    return dict(found[key][0])


def create_once(create: Callable[..., Any], exists: str, **request: Any) -> None:
    """`create(**request)`, where the error code `exists` (an earlier, interrupted run created it) is success."""
    try:
        create(**request)
    except Exception as exc:
        if error_code(exc) != exists:
            raise
