"""Networking gcloud may look up: Compute networks/subnetworks (read; `default` exists), global addresses
(the allocated ranges of private services access: insert/get/list), and Serverless VPC Access connectors
(vpcaccess v1: create/get/list/delete, operations)."""

from __future__ import annotations

import copy
import re

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    get_location_operation,
    invalid,
    location_operation,
    location_parent,
    lookup,
    not_found,
    now,
    page,
    under,
    vacant,
)

compute = Router()
vpcaccess = Router()

# ---------------------------------------------------------------------------------------------- compute


def _link(call: Call, path: str) -> str:
    return f"http://{call.host}/compute/projects/{call.project()}/{path}"


def _network(call: Call, name: str) -> JSON:
    stored = call.store.table("compute.networks").get(f"{call.project()}/{name}")
    if stored is None and name != "default":
        raise ApiError(
            404, "NOT_FOUND", f"The resource 'projects/{call.project()}/global/networks/{name}' was not found"
        )
    return stored or {
        "kind": "compute#network",
        "id": "1000000000000000001",
        "name": name,
        "selfLink": _link(call, f"global/networks/{name}"),
        "autoCreateSubnetworks": True,
        "routingConfig": {"routingMode": "REGIONAL"},
        "creationTimestamp": "2024-01-01T00:00:00.000-00:00",
    }


def _subnetwork(call: Call, region: str, name: str) -> JSON:
    stored = call.store.table("compute.subnetworks").get(f"{call.project()}/{region}/{name}")
    if stored is None and name != "default":
        raise ApiError(
            404,
            "NOT_FOUND",
            f"The resource 'projects/{call.project()}/regions/{region}/subnetworks/{name}' was not found",
        )
    return stored or {
        "kind": "compute#subnetwork",
        "id": "1000000000000000002",
        "name": name,
        "region": _link(call, f"regions/{region}"),
        "network": _link(call, "global/networks/default"),
        "ipCidrRange": "10.128.0.0/20",
        "gatewayAddress": "10.128.0.1",
        "privateIpGoogleAccess": True,
        "selfLink": _link(call, f"regions/{region}/subnetworks/{name}"),
    }


def _compute_op(call: Call, target: str, region: str | None = None) -> JSON:
    scope = f"regions/{region}" if region else "global"
    name = f"operation-{call.store.next('compute.op')}"
    op = {
        "kind": "compute#operation",
        "name": name,
        "status": "DONE",
        "progress": 100,
        "operationType": "insert",
        "targetLink": target,
        "selfLink": _link(call, f"{scope}/operations/{name}"),
        "insertTime": now(),
        "endTime": now(),
    }
    if region:
        op["region"] = _link(call, f"regions/{region}")
    call.store.table("compute.operations")[f"{call.project()}/{name}"] = op
    return op


@compute.route("GET", "projects/{project}/global/networks/{name}")
def get_network(call: Call) -> Reply:
    return 200, _network(call, call.p("name"))


@compute.route("GET", "projects/{project}/global/networks")
def list_networks(call: Call) -> Reply:
    prefix = f"{call.project()}/"
    stored = [n for k, n in sorted(call.store.table("compute.networks").items()) if k.startswith(prefix)]
    if not any(n["name"] == "default" for n in stored):
        stored.insert(0, _network(call, "default"))
    return 200, {"kind": "compute#networkList", "items": stored}


@compute.route("POST", "projects/{project}/global/networks")
def create_network(call: Call) -> Reply:
    body = copy.deepcopy(call.json())
    name = body.get("name", "")
    if not re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", name) or name == "default":
        raise invalid(f"Invalid or taken network name {name!r}.")
    table = call.store.table("compute.networks")
    if f"{call.project()}/{name}" in table:
        raise ApiError(
            409, "ALREADY_EXISTS", f"The resource 'projects/{call.project()}/global/networks/{name}' already exists"
        )
    body.update(kind="compute#network", selfLink=_link(call, f"global/networks/{name}"), creationTimestamp=now())
    table[f"{call.project()}/{name}"] = body
    return 200, _compute_op(call, body["selfLink"])


@compute.route("GET", "projects/{project}/regions/{region}/subnetworks/{name}")
def get_subnetwork(call: Call) -> Reply:
    return 200, _subnetwork(call, call.p("region"), call.p("name"))


@compute.route("POST", "projects/{project}/regions/{region}/subnetworks")
def create_subnetwork(call: Call) -> Reply:
    body = copy.deepcopy(call.json())
    name, region = body.get("name", ""), call.p("region")
    table = call.store.table("compute.subnetworks")
    if not name or f"{call.project()}/{region}/{name}" in table:
        raise ApiError(409, "ALREADY_EXISTS", f"The subnetwork {name!r} already exists or has no name.")
    body.update(kind="compute#subnetwork", selfLink=_link(call, f"regions/{region}/subnetworks/{name}"))
    table[f"{call.project()}/{region}/{name}"] = body
    return 200, _compute_op(call, body["selfLink"], region)


def _matches(item: JSON, query: dict[str, str]) -> bool:
    """Compute list filters `field eq|ne value` (the value an RE2 full match), joined by spaces as AND."""
    terms = re.findall(r"\(?(\w+) (eq|ne) ([^\s)]+)\)?", query.get("filter", ""))
    for name, op, value in terms:
        hit = re.fullmatch(value.strip('"'), str(item.get(name, ""))) is not None
        if hit != (op == "eq"):
            return False
    return True


@compute.route("POST", "projects/{project}/global/addresses")
def create_address(call: Call) -> Reply:
    """A global address; purpose VPC_PEERING with prefixLength is an allocated range (private services access)."""
    body = copy.deepcopy(call.json())
    name = body.get("name", "")
    if not re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", name):
        raise invalid(f"Invalid address name {name!r}.")
    link = _link(call, f"global/addresses/{name}")
    table = vacant(call, "compute.addresses", f"{call.project()}/{name}", f"The resource '{link}' already exists")
    if body.get("purpose") == "VPC_PEERING":
        prefix = int(body.get("prefixLength") or 0)
        if not 8 <= prefix <= 29 or body.get("addressType") != "INTERNAL" or not body.get("network"):
            raise invalid("A VPC_PEERING address needs addressType INTERNAL, a network and a prefixLength of 8-29.")
        _network(call, str(body["network"]).rstrip("/").rsplit("/", 1)[-1])
        body.setdefault("address", f"10.{64 + len(table)}.0.0")
    body.update(
        kind="compute#address",
        id=str(1000000000000000100 + call.store.next("compute.address")),
        status="RESERVED",
        selfLink=link,
        creationTimestamp=now(),
    )
    table[f"{call.project()}/{name}"] = body
    return 200, _compute_op(call, link)


@compute.route("GET", "projects/{project}/global/addresses/{name}")
def get_address(call: Call) -> Reply:
    link = _link(call, f"global/addresses/{call.p('name')}")
    return 200, lookup(call, "compute.addresses", f"{call.project()}/{call.p('name')}", f"The resource '{link}'")


@compute.route("GET", "projects/{project}/global/addresses")
def list_addresses(call: Call) -> Reply:
    """The project's global addresses; gcloud turns `--filter=purpose=X` into `filter=purpose eq X`."""
    items = [a for a in under(call, "compute.addresses", f"{call.project()}/") if _matches(a, call.query)]
    return 200, {"kind": "compute#addressList", **page(items, call, "items")}


def _get_op(call: Call) -> Reply:
    op = call.store.table("compute.operations").get(f"{call.project()}/{call.p('op')}")
    if op is None:
        raise not_found(f"Operation {call.p('op')}")
    return 200, op


for _scope in ("global", "regions/{region}"):
    compute.route("GET", f"projects/{{project}}/{_scope}/operations/{{op}}")(_get_op)
    compute.route("POST", f"projects/{{project}}/{_scope}/operations/{{op}}/wait")(_get_op)

# -------------------------------------------------------------------------------------------- vpcaccess

BASE = "v1/projects/{project}/locations/{location}"


@vpcaccess.route("POST", BASE + "/connectors")
def create_connector(call: Call) -> Reply:
    connector_id = call.query.get("connectorId", "")
    if not re.match(r"^[a-z][-a-z0-9]{0,23}[a-z0-9]$", connector_id):
        raise invalid(f"Invalid connector id {connector_id!r} (max 25 characters).")
    name = f"{location_parent(call)}/connectors/{connector_id}"
    table = vacant(call, "vpcaccess.connectors", name, f"Connector {name} already exists.")
    body = copy.deepcopy(call.json())
    connector = {**body, "name": name, "state": "READY"}
    connector.setdefault("minInstances", 2)
    connector.setdefault("maxInstances", 10)
    table[name] = connector
    response = {"@type": "type.googleapis.com/google.cloud.vpcaccess.v1.Connector", **connector}
    return 200, location_operation(call, response)


def _connector(call: Call) -> JSON:
    name = f"{location_parent(call)}/connectors/{call.p('name')}"
    return lookup(call, "vpcaccess.connectors", name, f"Connector {name}")


@vpcaccess.route("GET", BASE + "/connectors/{name}")
def get_connector(call: Call) -> Reply:
    return 200, _connector(call)


@vpcaccess.route("GET", BASE + "/connectors")
def list_connectors(call: Call) -> Reply:
    items = under(call, "vpcaccess.connectors", f"{location_parent(call)}/connectors/")
    return 200, page(items, call, "connectors")


@vpcaccess.route("DELETE", BASE + "/connectors/{name}")
def delete_connector(call: Call) -> Reply:
    call.store.table("vpcaccess.connectors").pop(_connector(call)["name"])
    return 200, location_operation(call, {})


vpcaccess.route("GET", BASE + "/operations/{op}")(get_location_operation)
