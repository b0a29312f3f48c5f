"""Service Networking v1: private services access connections (`gcloud services vpc-peerings`).

gcloud has no endpoint override for this API: it calls https://servicenetworking.googleapis.com through
the proxy, and the fake serves it inside the CONNECT tunnel (see tls.py). gcloud names the consumer
network by project NUMBER (`projects/300775050314/global/networks/default`, the number it reads from
cloudresourcemanager), lists with `services/-/connections?network=…`, patches `services/S/connections/-`
and polls `operations/{op}`. A connection's ranges must be global addresses with purpose VPC_PEERING on
that network (compute.addresses, apis/network.py); Cloud SQL refuses a private IP without a connection.
"""

from __future__ import annotations

import re

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    invalid,
    project_id,
    update_mask,
)
from pmis_deploy.emulators.gcp.state import Store

router = Router()
TABLE = "servicenetworking.connections"
HOST = "servicenetworking.googleapis.com"
_NETWORK = re.compile(r"(?:^|/)projects/(?P<project>[^/]+)/global/networks/(?P<network>[^/]+)$")


def network_key(network: str) -> str:
    """`project-id/network` of `projects/<id or number>/global/networks/<name>` (or a URL ending so)."""
    match = _NETWORK.search(network)
    if not match:
        raise invalid(f"Invalid network {network!r}: expected projects/PROJECT_NUMBER/global/networks/NAME.")
    return f"{project_id(match['project'])}/{match['network']}"


def peered_ranges(store: Store, project: str, network: str) -> list[str]:
    """The allocated ranges of the Service Networking connection of `project`'s `network` ([] when none)."""
    connection = store.table(TABLE).get(f"services/{HOST}/{project}/{network}")
    return list(connection["reservedPeeringRanges"]) if connection else []


def _ranges(call: Call, key: str, body: JSON) -> list[str]:
    ranges = body.get("reservedPeeringRanges") or []
    if not ranges:
        raise invalid("reservedPeeringRanges must name at least one allocated range.")
    project, network = key.split("/", 1)
    addresses = call.store.table("compute.addresses")
    for name in ranges:
        address = addresses.get(f"{project}/{name}")
        if (
            address is None
            or address.get("purpose") != "VPC_PEERING"
            or not str(address.get("network", "")).endswith(f"/global/networks/{network}")
        ):
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"Allocated IP range '{name}' not found in network 'projects/{project}/global/networks/{network}'.",
            )
    return list(ranges)


def _done(call: Call, connection: JSON) -> JSON:
    response = {"@type": "type.googleapis.com/google.cloud.servicenetworking.v1.Connection", **connection}
    return call.store.operation(call.store.new_op_name(""), response)


@router.route("GET", "v1/services/{service}/connections")
def list_connections(call: Call) -> Reply:
    network = call.query.get("network")
    if not network:
        raise invalid("The network query parameter is required.")
    key = network_key(network)
    service = call.p("service")
    items = [
        c
        for k, c in sorted(call.store.table(TABLE).items())
        if k.endswith(f"/{key}") and (service == "-" or c["service"] == f"services/{service}")
    ]
    return 200, {"connections": items} if items else {}


@router.route("POST", "v1/services/{service}/connections")
def create_connection(call: Call) -> Reply:
    body = call.json()
    key = network_key(str(body.get("network", "")))
    service = call.p("service")
    table = call.store.table(TABLE)
    if f"services/{service}/{key}" in table:
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            "Cannot modify allocated ranges in CreateConnection. Please use UpdateConnection.",
        )
    connection = {
        "network": body["network"],
        "reservedPeeringRanges": _ranges(call, key, body),
        "peering": service.replace(".", "-"),
        "service": f"services/{service}",
    }
    table[f"services/{service}/{key}"] = connection
    return 200, _done(call, connection)


@router.route("PATCH", "v1/services/{service}/connections/{name}")
def update_connection(call: Call) -> Reply:
    body = call.json()
    key = network_key(str(body.get("network", "")))
    connection = call.store.table(TABLE).get(f"services/{call.p('service')}/{key}")
    if connection is None:
        raise ApiError(404, "NOT_FOUND", f"No connection to {call.p('service')} on {body.get('network')}.")
    if "reservedPeeringRanges" in update_mask(call, {"reservedPeeringRanges": None}):
        ranges = _ranges(call, key, body)
        dropped = set(connection["reservedPeeringRanges"]) - set(ranges)
        if dropped and call.query.get("force", "").lower() != "true":
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"Removing allocated ranges {sorted(dropped)} may break existing services; pass force to proceed.",
            )
        connection["reservedPeeringRanges"] = ranges
    return 200, _done(call, connection)


@router.route("GET", "v1/operations/{op}")
def get_operation(call: Call) -> Reply:
    return 200, call.store.poll(f"operations/{call.p('op')}")
