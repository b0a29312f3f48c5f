"""`inv provision.gcp`: converge an environment's GCP resources (plan from batched reads, then apply).

plan = make_plan(ctx)           # reads only (safe in dry-run)
plan.phases.apply(ctx.gcloud.parallel)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pmis_deploy.gcp import apis, iam, monitoring, network, registry, secrets, sql
from pmis_deploy.gcp import redis as redis_
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed, observe
from pmis_deploy.gcp.plan import Change, Phases, change

if TYPE_CHECKING:
    from pmis_deploy.config import Settings


@dataclass
class ProvisionPlan:
    seen: Observed
    phases: Phases = field(default_factory=Phases)
    secret_versions: dict[str, str] = field(default_factory=dict)  # name → version id (filled on apply)

    @property
    def changes(self) -> list[Change]:
        return self.phases.changes

    def rows(self) -> list[tuple[str, str, str]]:
        return [c.row() for c in self.changes]


def secret_values(ctx: Ctx, seen: Observed, phases: Phases) -> dict[str, secrets.Value | None]:
    """Secret key → desired value; plans the SQL user on the way (its password is a secret)."""
    n = ctx.names
    stored = seen.secret_latest.get(n.secret("db-password"))
    password = sql.plan(ctx, seen, phases, stored.value if stored else None)
    tls = ctx.settings.gcp.redis.transit_encryption
    values: dict[str, secrets.Value | None] = {
        "db-password": password,
        "database-url": sql.database_url(ctx, password),
    }
    if seen.redis is not None and seen.redis_auth:
        conn = redis_.connection(seen.redis, seen.redis_auth, tls=tls)
        values.update({"redis-auth": conn.auth, "redis-url": conn.url, "celery-broker": conn.url})
        if conn.ca:
            values["redis-ca"] = conn.ca
    else:  # created in this run: read host, CA and AUTH string after phase 2
        read = functools.cache(lambda: redis_.read(ctx))
        values.update(
            {
                "redis-auth": lambda: read().auth,
                "redis-url": lambda: read().url,
                "celery-broker": lambda: read().url,
            }
        )
        if tls:
            values["redis-ca"] = lambda: read().ca or ""
    return {
        **values,
        "azure-openai-key": secrets.azure_key(ctx, seen),
    }


def make_plan(ctx: Ctx) -> ProvisionPlan:
    """Read everything (two concurrent rounds) and plan every change. Makes no mutating call."""
    seen = observe(ctx)
    plan = ProvisionPlan(seen)
    phases = plan.phases
    apis.plan(ctx, seen, phases)
    if not seen.bucket:
        from pmis_deploy.gcp.state import GcsStateBackend

        bucket = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)  # deploy may have made it, for its lock
        phases.add(2, change(f"bucket {bucket.location}", "create", "deploy lock and release records", bucket.ensure))
    registry.plan(ctx, seen, phases)
    redis_.plan(ctx, seen, phases)
    network.plan(ctx, seen, phases)
    plan.secret_versions = secrets.plan(ctx, seen, phases, secret_values(ctx, seen, phases))
    iam.plan(ctx, seen, phases)
    monitoring.plan(ctx, seen, phases)
    return plan


def apply(ctx: Ctx, plan: ProvisionPlan) -> None:
    plan.phases.apply(ctx.gcloud.parallel)


def provision(ctx: Ctx) -> ProvisionPlan:
    """Plan, print the plan, and apply it unless dry-run. Returns the plan (empty: nothing changed)."""
    from pmis_deploy import console

    with console.step(f"reading GCP project {ctx.names.project} ({ctx.names.region})"):
        plan = make_plan(ctx)
    show(plan)
    if plan.changes and not ctx.dry_run:
        with console.step(f"applying {len(plan.changes)} change(s)"):
            apply(ctx, plan)
    return plan


def show(plan: ProvisionPlan) -> None:
    from pmis_deploy import console

    if not plan.changes:
        console.success("GCP infrastructure: no changes")
        return
    console.table("GCP infrastructure changes", ["action", "resource", "detail"], plan.rows(), stderr=True)


def converge(settings: Settings, *, dry_run: bool = False, yes: bool = False) -> int:
    """The `inv provision.gcp` entry point: returns the exit code (0 no changes / applied, 2 planned)."""
    from pmis_deploy.guard import confirm

    ctx = Ctx.for_settings(settings, dry_run=dry_run)
    if dry_run:
        return 2 if provision(ctx).changes else 0
    plan = make_plan(ctx)
    show(plan)
    if plan.changes:
        confirm(
            settings.environment.value,
            required=settings.deploy.confirm,
            yes=yes,
            action="change the GCP infrastructure of",
        )
        from pmis_deploy import console

        with console.step(f"applying {len(plan.changes)} change(s)"):
            apply(ctx, plan)
        console.success(f"GCP infrastructure converged ({len(plan.changes)} change(s))")
    return 0
