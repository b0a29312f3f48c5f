"""Private services access: what a Cloud SQL private IP needs on `gcp.egress.network` before the instance.

GCP creates a private-IP instance only on a network peered with Service Networking: an allocated
internal range (a global address with purpose VPC_PEERING) and the `servicenetworking.googleapis.com`
connection that reserves it. Both are converged here: the range is created when missing, the connection
is made when there is none, and when one exists without our range it is updated to its ranges plus ours
(someone else's ranges are never dropped, `--force` is never passed). The changes are returned, not
added: sql.plan chains them before the instance create (sql.py), after the APIs (phase 1).
"""

from __future__ import annotations

from pmis_deploy.errors import ConfigError
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Change, change

PEERING_TIMEOUT = 900.0  # connecting or updating the peering takes minutes on real GCP


def plan(ctx: Ctx, seen: Observed) -> list[Change]:
    """The range and peering changes still needed, in the order they must run ([] when converged)."""
    sql, network = ctx.settings.gcp.sql, ctx.settings.gcp.egress.network
    if not sql.private_ip:
        return []
    name, gc = ctx.names.private_range, ctx.gcloud
    changes: list[Change] = []
    existing = seen.peering_ranges.get(name)
    if existing is None:
        create = g.peering_range_create(name, network, sql.private_range_prefix_length, sql.private_range_address)
        start = f"{sql.private_range_address}/" if sql.private_range_address else "/"
        detail = f"VPC_PEERING {start}{sql.private_range_prefix_length} on {network}"
        changes.append(change(f"allocated range {name}", "create", detail, lambda: gc.run(create)))
    elif not str(existing.get("network", "")).endswith(f"/networks/{network}"):
        raise ConfigError(
            f"allocated range {name} is on {existing.get('network')}, not on gcp.egress.network {network!r}",
            hint=f"delete it (gcloud compute addresses delete {name} --global) or set gcp.egress.network to its own",
        )
    peered = list((seen.service_peering or {}).get("reservedPeeringRanges", []))
    if name in peered:
        return changes
    if seen.service_peering is None:
        cmd, action, detail = g.vpc_peering_connect(network, [name]), "create", f"{network}: {name}"
    else:  # keep every range already reserved: dropping one in use breaks its instances
        ranges = [*peered, name]
        cmd, action, detail = g.vpc_peering_update(network, ranges), "update", f"{network}: {', '.join(ranges)}"
    changes.append(
        change(
            f"service networking peering {g.SERVICE_NETWORKING_API}",
            action,
            detail,
            lambda: gc.run(cmd, timeout=PEERING_TIMEOUT),
        )
    )
    return changes
