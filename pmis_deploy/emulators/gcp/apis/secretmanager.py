"""Secret Manager v1: secrets (create/get/list/patch/delete), versions (add/list/get/access/state), IAM.

Secret payloads live here and only here; the request log redacts them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    already_exists,
    crc32c,
    get_policy,
    invalid,
    not_found,
    now,
    project_number,
    set_policy,
    update_mask,
)

router = Router()
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
BASE = "v1/projects/{project}/secrets"


def _key(call: Call) -> str:
    return f"{call.project()}/{call.p('secret')}"


def _name(call: Call) -> str:
    return f"projects/{project_number(call.project())}/secrets/{call.p('secret')}"


def _secret(call: Call) -> JSON:
    secret = call.store.table("secretmanager.secrets").get(_key(call))
    if secret is None:
        raise not_found(f"Secret [{_name(call)}]")
    return secret


def _versions(call: Call) -> list[JSON]:
    _secret(call)
    return call.store.table("secretmanager.versions").setdefault(_key(call), [])


def _public(version: JSON) -> JSON:
    return {k: v for k, v in version.items() if k not in ("payload", "crc32c")}


def _version(call: Call) -> JSON:
    versions = _versions(call)
    wanted = call.p("version")
    if wanted == "latest":
        if not versions:
            raise not_found(f"Secret Version [{_name(call)}/versions/latest]")
        return versions[-1]
    for version in versions:
        if version["name"].rsplit("/", 1)[1] == wanted:
            return version
    raise not_found(f"Secret Version [{_name(call)}/versions/{wanted}]")


@router.route("POST", BASE)
def create_secret(call: Call) -> Reply:
    secret_id = call.query.get("secretId", "")
    if not _SECRET_ID.match(secret_id):
        raise invalid(f"Secret id [{secret_id}] must match [a-zA-Z0-9_-]{{1,255}}.")
    call.params["secret"] = secret_id
    table = call.store.table("secretmanager.secrets")
    if _key(call) in table:
        raise already_exists(f"Secret [{_name(call)}]")
    body = call.json()
    secret: JSON = {
        "name": _name(call),
        "replication": body.get("replication") or {"automatic": {}},
        "createTime": now(),
        "etag": f'"{call.store.next("etag")}"',
    }
    for field in ("labels", "annotations", "topics", "expireTime", "ttl", "rotation", "versionAliases"):
        if body.get(field):
            secret[field] = body[field]
    table[_key(call)] = secret
    return 200, secret


@router.route("GET", BASE)
def list_secrets(call: Call) -> Reply:
    prefix = f"{call.project()}/"
    secrets = [s for k, s in sorted(call.store.table("secretmanager.secrets").items()) if k.startswith(prefix)]
    return 200, {"secrets": secrets, "totalSize": len(secrets)} if secrets else {}


@router.route("GET", BASE + "/{secret}")
def get_secret(call: Call) -> Reply:
    return 200, _secret(call)


@router.route("PATCH", BASE + "/{secret}")
def patch_secret(call: Call) -> Reply:
    secret = _secret(call)
    body = call.json()
    for field in update_mask(call, body):
        if field and field not in ("name", "createTime", "replication"):
            if field in body:
                secret[field] = body[field]
            else:
                secret.pop(field, None)
    secret["etag"] = f'"{call.store.next("etag")}"'
    return 200, secret


@router.route("DELETE", BASE + "/{secret}")
def delete_secret(call: Call) -> Reply:
    _secret(call)
    call.store.table("secretmanager.secrets").pop(_key(call))
    call.store.table("secretmanager.versions").pop(_key(call), None)
    return 200, {}


@router.route("POST", BASE + "/{secret}:addVersion")
def add_version(call: Call) -> Reply:
    versions = _versions(call)
    payload = call.json().get("payload") or {}
    try:
        # proto3 JSON accepts standard and URL-safe base64 (apitools sends URL-safe), padded or not.
        text = str(payload.get("data", "")).replace("-", "+").replace("_", "/")
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("payload.data must be base64.") from None
    sent_crc = payload.get("dataCrc32c")
    if sent_crc is not None and int(sent_crc) != crc32c(data):
        raise invalid("Checksum mismatch: payload.dataCrc32c does not match the payload.")
    version: JSON = {
        "name": f"{_name(call)}/versions/{len(versions) + 1}",
        "createTime": now(),
        "state": "ENABLED",
        "replicationStatus": {"automatic": {}},
        "etag": f'"{call.store.next("etag")}"',
        "clientSpecifiedPayloadChecksum": sent_crc is not None,
        "payload": base64.b64encode(data).decode(),
        "crc32c": str(crc32c(data)),
    }
    versions.append(version)
    return 200, _public(version)


@router.route("GET", BASE + "/{secret}/versions")
def list_versions(call: Call) -> Reply:
    versions = [_public(v) for v in reversed(_versions(call))]
    wanted = call.query.get("filter", "")
    if wanted.startswith("state:"):
        versions = [v for v in versions if v["state"] == wanted.split(":", 1)[1].strip().upper()]
    return 200, {"versions": versions, "totalSize": len(versions)} if versions else {}


@router.route("GET", BASE + "/{secret}/versions/{version}")
def get_version(call: Call) -> Reply:
    return 200, _public(_version(call))


@router.route("GET", BASE + "/{secret}/versions/{version}:access")
def access_version(call: Call) -> Reply:
    version = _version(call)
    if version["state"] != "ENABLED":
        raise ApiError(400, "FAILED_PRECONDITION", f"{version['name']} is in {version['state']} state.")
    return 200, {"name": version["name"], "payload": {"data": version["payload"], "dataCrc32c": version["crc32c"]}}


def _set_state(state: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        version = _version(call)
        version["state"] = state
        if state == "DESTROYED":
            version["payload"] = ""
            version["destroyTime"] = now()
        return 200, _public(version)

    return handler


for _verb, _state in (("disable", "DISABLED"), ("enable", "ENABLED"), ("destroy", "DESTROYED")):
    router.route("POST", BASE + "/{secret}/versions/{version}:" + _verb)(_set_state(_state))


@router.route("GET", BASE + "/{secret}:getIamPolicy")
@router.route("POST", BASE + "/{secret}:getIamPolicy")
def get_iam(call: Call) -> Reply:
    _secret(call)
    return 200, get_policy(call.store, _name(call))


@router.route("POST", BASE + "/{secret}:setIamPolicy")
def set_iam(call: Call) -> Reply:
    _secret(call)
    return 200, set_policy(call.store, _name(call), call.json())
