"""G8: Cloud Run reaches Memorystore's private IP through Direct VPC egress or a VPC Access connector."""

from __future__ import annotations

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change
from pmis_deploy.gcp.settings import EgressMode


def connector(ctx: Ctx) -> str | None:
    return ctx.names.connector if ctx.settings.gcp.egress.mode is EgressMode.connector else None


def egress_flags(ctx: Ctx) -> tuple[str, ...]:
    return g.egress_flags(ctx.settings.gcp, connector(ctx))


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    name = connector(ctx)
    if name is None or name in seen.connectors:
        return  # Direct VPC egress needs no resource: the network and subnet flags go on each deploy
    egress = ctx.settings.gcp.egress
    cmd = g.connector_create(name, egress.network, egress.connector_range)
    phases.add(
        2,
        change(
            f"vpc connector {name}",
            "create",
            f"{egress.network} {egress.connector_range}",
            lambda: ctx.gcloud.run(cmd, timeout=1800),
        ),
    )
