"""Service accounts per workload (G13) and least-privilege bindings (G14): cloudsql.client on the
project for the workloads that use Cloud SQL, secretAccessor on exactly the secrets each one reads."""

from __future__ import annotations

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


def secret_readers(ctx: Ctx) -> dict[str, list[str]]:
    """Secret name → the members that may read it."""
    readers: dict[str, list[str]] = {}
    for workload, keys in WORKLOAD_SECRETS.items():
        for key in keys:
            readers.setdefault(ctx.names.secret(key), []).append(member(ctx.names.sa_email(workload)))
    return readers


def _sequentially(ctx: Ctx, cmds: list[Cmd]) -> Callable[[], None]:
    """Bindings on one policy go one after another (each is a read-modify-write of the same etag)."""

    def run() -> None:
        for cmd in cmds:
            ctx.gcloud.run(cmd)

    return run


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    n = ctx.names
    for workload in WORKLOADS:
        email = n.sa_email(workload)
        if email not in seen.service_accounts:
            cmd = g.sa_create(n.service_account(workload), f"PMIS {n.prefix} {workload}")
            phases.add(2, change(f"service account {email}", "create", "", _sequentially(ctx, [cmd])))
    have = members_of(seen.project_policy, SQL_CLIENT)
    wanted = [member(n.sa_email(w)) for w in SQL_WORKLOADS]
    missing = [m for m in wanted if m not in have]
    if missing:
        cmds = [g.project_add_binding(n.project, m, SQL_CLIENT) for m in missing]
        phases.add(
            3, change(f"project {n.project}", "bind", f"{SQL_CLIENT} → {', '.join(missing)}", _sequentially(ctx, cmds))
        )
    for secret, readers in secret_readers(ctx).items():
        have = members_of(seen.secret_policies.get(secret), SECRET_ACCESSOR)
        missing = [m for m in readers if m not in have]
        if missing:
            cmds = [g.secret_add_binding(secret, m, SECRET_ACCESSOR) for m in missing]
            phases.add(
                3,
                change(f"secret {secret}", "bind", f"secretAccessor → {', '.join(missing)}", _sequentially(ctx, cmds)),
            )
