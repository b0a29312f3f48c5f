"""Memorystore for Redis v1: instances (create/get/list/patch/delete), getAuthString, operations."""

from __future__ import annotations

import copy
import uuid

from pmis_deploy.emulators.gcp.core import (
    JSON,
    Call,
    Reply,
    Router,
    get_location_operation,
    invalid,
    location_operation,
    location_parent,
    lookup,
    now,
    page,
    under,
    update_mask,
    vacant,
)

router = Router()
BASE = "v1/projects/{project}/locations/{location}"
TYPE = "type.googleapis.com/google.cloud.redis.v1.Instance"


def _public(instance: JSON) -> JSON:
    return {k: v for k, v in instance.items() if not k.startswith("_")}


def _op(call: Call, verb: str, instance: JSON | None) -> JSON:
    metadata = {
        "@type": "type.googleapis.com/google.cloud.redis.v1.OperationMetadata",
        "createTime": now(),
        "target": instance["name"] if instance else location_parent(call),
        "verb": verb,
        "apiVersion": "v1",
    }
    response = (
        {"@type": TYPE, **_public(instance)} if instance else {"@type": "type.googleapis.com/google.protobuf.Empty"}
    )
    return location_operation(call, response, metadata)


def _tls(instance: JSON) -> None:
    """Port and server CA of the transit encryption mode; an AUTH string once auth is enabled."""
    tls = instance.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    instance["port"] = 6378 if tls else 6379
    if tls:
        instance["serverCaCerts"] = [
            {
                "serialNumber": "0",
                "cert": "-----BEGIN CERTIFICATE-----\nMIIFAKEPMISFAKECA\n-----END CERTIFICATE-----\n",
                "createTime": instance["createTime"],
                "expireTime": "2036-01-01T00:00:00Z",
                "sha1Fingerprint": "00:11:22:33",
            }
        ]
    else:
        instance.pop("serverCaCerts", None)
    if instance.get("authEnabled") and not instance.get("_authString"):
        instance["_authString"] = str(uuid.uuid4())
    if not instance.get("authEnabled"):
        instance.pop("_authString", None)


def _instance(call: Call) -> JSON:
    name = f"{location_parent(call)}/instances/{call.p('instance')}"
    return lookup(call, "redis.instances", name, f"Resource '{name}'")


@router.route("POST", BASE + "/instances")
def create_instance(call: Call) -> Reply:
    instance_id = call.query.get("instanceId", "")
    if not instance_id:
        raise invalid("instanceId is required.")
    name = f"{location_parent(call)}/instances/{instance_id}"
    table = vacant(call, "redis.instances", name, f"Resource '{name}' already exists")
    body = copy.deepcopy(call.json())
    location = call.p("location")
    tier = body.get("tier") or "BASIC"
    instance = {
        **body,
        "name": name,
        "tier": tier,
        "memorySizeGb": body.get("memorySizeGb") or 1,
        "redisVersion": body.get("redisVersion") or "REDIS_7_2",
        "locationId": body.get("locationId") or f"{location}-a",
        "currentLocationId": body.get("locationId") or f"{location}-a",
        "authorizedNetwork": body.get("authorizedNetwork") or f"projects/{call.project()}/global/networks/default",
        "connectMode": body.get("connectMode") or "DIRECT_PEERING",
        "transitEncryptionMode": body.get("transitEncryptionMode") or "DISABLED",
        "authEnabled": bool(body.get("authEnabled")),
        "host": "10.0.0.3",
        "reservedIpRange": "10.0.0.0/29",
        "createTime": now(),
        "state": "READY",
        "persistenceIamIdentity": "serviceAccount:service-123@cloud-redis.iam.gserviceaccount.com",
        "nodes": [{"id": "node-0", "zone": f"{location}-a"}],
    }
    if tier == "STANDARD_HA":
        instance["alternativeLocationId"] = body.get("alternativeLocationId") or f"{location}-b"
        instance["replicaCount"] = body.get("replicaCount") or 1
    _tls(instance)
    table[name] = instance
    return 200, _op(call, "create", instance)


@router.route("GET", BASE + "/instances")
def list_instances(call: Call) -> Reply:
    prefix = f"{location_parent(call)}/instances/" if call.p("location") != "-" else f"projects/{call.project()}/"
    items = [_public(i) for i in under(call, "redis.instances", prefix)]
    return 200, page(items, call, "instances")


@router.route("GET", BASE + "/instances/{instance}")
def get_instance(call: Call) -> Reply:
    return 200, _public(_instance(call))


@router.route("PATCH", BASE + "/instances/{instance}")
def patch_instance(call: Call) -> Reply:
    instance = _instance(call)
    body = call.json()
    fields = update_mask(call, body)
    immutable = {"name", "tier", "locationId", "authorizedNetwork", "connectMode", "transitEncryptionMode"}
    if immutable & set(fields):
        raise invalid(f"Fields {sorted(immutable & set(fields))} cannot be updated.")
    for field in fields:
        if field in body:
            instance[field] = copy.deepcopy(body[field])
    _tls(instance)
    return 200, _op(call, "update", instance)


@router.route("DELETE", BASE + "/instances/{instance}")
def delete_instance(call: Call) -> Reply:
    instance = _instance(call)
    call.store.table("redis.instances").pop(instance["name"])
    return 200, _op(call, "delete", None)


@router.route("GET", BASE + "/instances/{instance}/authString")
def get_auth_string(call: Call) -> Reply:
    instance = _instance(call)
    return 200, {"authString": instance["_authString"]} if instance.get("_authString") else {}


router.route("GET", BASE + "/operations/{op}")(get_location_operation)
