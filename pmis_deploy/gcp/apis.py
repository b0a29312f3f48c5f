"""G9: enable every API the flow needs, first, in one batch."""

from __future__ import annotations

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change
from pmis_deploy.gcp.settings import EgressMode


def required(ctx: Ctx) -> list[str]:
    apis = list(g.REQUIRED_APIS)
    if ctx.settings.gcp.egress.mode is EgressMode.connector:
        apis.append(g.CONNECTOR_API)
    if ctx.settings.gcp.sql.private_ip:
        apis.append(g.SERVICE_NETWORKING_API)  # private services access (compute is required anyway)
    return apis


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    missing = [api for api in required(ctx) if api not in seen.enabled_apis]
    if missing:
        phases.add(
            1,
            change(
                f"apis ({len(missing)})",
                "enable",
                ", ".join(missing),
                lambda: ctx.gcloud.run(g.services_enable(missing), timeout=600),
            ),
        )
