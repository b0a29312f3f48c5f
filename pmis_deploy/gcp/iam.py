"""Service accounts per workload (G13) and least-privilege bindings (G14): cloudsql.client on the
project for the workloads that use Cloud SQL, secretAccessor on exactly the secrets each one reads.

Bindings are converged by writing the whole policy once (`set-iam-policy` with the etag read in
observe): one call per policy instead of a read-modify-write per member, and a concurrent change
makes the write fail (retry) instead of being lost.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import SQL_WORKLOADS, WORKLOAD_SECRETS, WORKLOADS
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change

SQL_CLIENT = "roles/cloudsql.client"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 (a role name)
RUN_INVOKER = "roles/run.invoker"


def member(email: str) -> str:
    return f"serviceAccount:{email}"


def members_of(policy: dict[str, Any] | None, role: str) -> set[str]:
    for binding in (policy or {}).get("bindings", []):
        if binding.get("role") == role and not binding.get("condition"):
            return set(binding.get("members", []))
    return set()


def with_members(policy: dict[str, Any] | None, role: str, members: list[str]) -> dict[str, Any]:
    """A copy of `policy` (etag kept) granting `role` to `members` as well."""
    out = copy.deepcopy(policy or {})
    bindings = out.setdefault("bindings", [])
    for binding in bindings:
        if binding.get("role") == role and not binding.get("condition"):
            binding["members"] = sorted(set(binding.get("members", [])) | set(members))
            return out
    bindings.append({"role": role, "members": sorted(members)})
    return out


def secret_readers(ctx: Ctx) -> dict[str, list[str]]:
    """Secret name → the members that may read it."""
    readers: dict[str, list[str]] = {}
    for workload, keys in WORKLOAD_SECRETS.items():
        for key in keys:
            readers.setdefault(ctx.names.secret(key), []).append(member(ctx.names.sa_email(workload)))
    return readers


def policy_writer(ctx: Ctx, policy: dict[str, Any], build: Callable[[str], Cmd]) -> Callable[[], Any]:
    """Write `policy` to a temp file and run the set-iam-policy command `build(path)` makes."""

    def run() -> Any:
        fd, path = tempfile.mkstemp(prefix="pmis-policy-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(policy, fh)
            return ctx.gcloud.run(build(path))
        finally:
            os.unlink(path)

    return run


def grant(
    ctx: Ctx, phases: Phases, phase: int, resource: str, policy: dict[str, Any] | None, role: str,
    wanted: list[str], build: Callable[[str], Cmd],
) -> None:  # fmt: skip
    missing = [m for m in wanted if m not in members_of(policy, role)]
    if missing:
        desired = with_members(policy, role, missing)
        short = role.rsplit("/", 1)[-1]
        phases.add(
            phase, change(resource, "bind", f"{short} → {', '.join(missing)}", policy_writer(ctx, desired, build))
        )


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    n = ctx.names
    for workload in WORKLOADS:
        email = n.sa_email(workload)
        if email not in seen.service_accounts:
            cmd = g.sa_create(n.service_account(workload), f"PMIS {n.prefix} {workload}")
            phases.add(2, change(f"service account {email}", "create", "", _run(ctx, cmd)))
    grant(
        ctx, phases, 4, f"project {n.project}", seen.project_policy, SQL_CLIENT,
        [member(n.sa_email(w)) for w in SQL_WORKLOADS], lambda p: g.project_set_iam_policy(n.project, p),
    )  # fmt: skip
    for secret, readers in secret_readers(ctx).items():
        grant(
            ctx, phases, 4, f"secret {secret}", seen.secret_policies.get(secret), SECRET_ACCESSOR, readers,
            lambda p, secret=secret: g.secret_set_iam_policy(secret, p),  # type: ignore[misc]
        )  # fmt: skip


def _run(ctx: Ctx, cmd: Cmd) -> Callable[[], Any]:
    return lambda: ctx.gcloud.run(cmd)
