"""Cloud SQL Admin v1beta4: instances, databases, users, operations (`sql#operation`).

gcloud sends `sql/v1beta4/projects/P/...` after the override prefix. Request bodies are kept as sent
(settings merged on patch) so tests can assert the flags; user passwords are never stored, only a
SHA-256 and a change counter (`passwordSha256`, `passwordChanges`, visible through FakeGcp.table()).
A private-IP instance (`ipConfiguration.privateNetwork`) needs the network's Service Networking
connection first (private services access), as on GCP.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

from pmis_deploy.emulators.gcp.apis.servicenetworking import network_key, peered_ranges
from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    invalid,
    new_uid,
    not_found,
    now,
    project_number,
    vacant,
)

router = Router()
BASE = "sql/v1beta4/projects/{project}"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,96}[a-z0-9]$")


def _link(call: Call, path: str) -> str:
    return f"http://{call.host}/sql/sql/v1beta4/projects/{call.project()}/{path}"


def _operation(call: Call, kind: str, target: str) -> JSON:
    """A sql#operation: DONE at once, or PENDING for `op_polls` GETs when op_done_at_create is off."""
    name = new_uid()
    done = call.store.knobs.op_done_at_create
    op = {
        "kind": "sql#operation",
        "name": name,
        "operationType": kind,
        "status": "DONE" if done else "PENDING",
        "targetId": target,
        "targetProject": call.project(),
        "targetLink": _link(call, f"instances/{target}"),
        "selfLink": _link(call, f"operations/{name}"),
        "user": "fake-deployer@pmis.local",
        "insertTime": now(),
        "startTime": now(),
    }
    if done:
        op["endTime"] = now()
    call.store.table("sql.operations")[f"{call.project()}/{name}"] = {
        "op": op,
        "polls": 0 if done else call.store.knobs.op_polls,
    }
    return op


@router.route("GET", BASE + "/operations/{op}")
def get_operation(call: Call) -> Reply:
    entry = call.store.table("sql.operations").get(f"{call.project()}/{call.p('op')}")
    if entry is None:
        raise not_found(f"Operation {call.p('op')}")
    op = entry["op"]
    if op["status"] != "DONE":
        if entry["polls"] > 0:
            entry["polls"] -= 1
            op["status"] = "RUNNING"
        else:
            op.update(status="DONE", endTime=now())
    return 200, op


# ------------------------------------------------------------------------------------------ instances


def _merge(into: JSON, patch: JSON) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _instance(call: Call, name: str | None = None) -> JSON:
    name = name or call.p("instance")
    instance = call.store.table("sql.instances").get(f"{call.project()}/{name}")
    if instance is None:
        raise ApiError(404, "NOT_FOUND", f"The Cloud SQL instance does not exist. ({name})")
    return instance


def _ip_addresses(settings: JSON) -> list[JSON]:
    ip = settings.get("ipConfiguration") or {}
    addresses = []
    if ip.get("ipv4Enabled", True):
        addresses.append({"type": "PRIMARY", "ipAddress": "34.72.0.10"})
    if ip.get("privateNetwork"):
        addresses.append({"type": "PRIVATE", "ipAddress": "10.20.0.3"})
    return addresses


def _require_private_services_access(call: Call, network: str | None) -> None:
    """GCP's refusal of a private IP on a network without a Service Networking connection."""
    if not network:
        return
    project, name = network_key(network).split("/", 1)
    if not peered_ranges(call.store, project, name):
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            "Failed to create subnetwork. Please create Service Networking connection with service "
            f"'servicenetworking.googleapis.com' from consumer project '{project_number(project)}' "
            f"network '{name}' again.",
        )


@router.route("POST", BASE + "/instances")
def create_instance(call: Call) -> Reply:
    body = copy.deepcopy(call.json())
    name = body.get("name", "")
    if not _NAME.match(name):
        raise invalid(f"Invalid instance name {name!r}.")
    table = vacant(call, "sql.instances", f"{call.project()}/{name}", "The Cloud SQL instance already exists.")
    version = body.get("databaseVersion") or "POSTGRES_16"
    if not re.match(r"^(POSTGRES|MYSQL|SQLSERVER)_", version):
        raise invalid(f"Invalid database version {version!r}.")
    region = body.get("region") or "us-central1"
    settings = body.setdefault("settings", {})
    _require_private_services_access(call, (settings.get("ipConfiguration") or {}).get("privateNetwork"))
    settings.setdefault("tier", "db-custom-1-3840")
    settings.setdefault("availabilityType", "ZONAL")
    settings.setdefault("activationPolicy", "ALWAYS")
    settings.setdefault("pricingPlan", "PER_USE")
    settings.setdefault("dataDiskType", "PD_SSD")
    settings.setdefault("dataDiskSizeGb", "10")
    settings["settingsVersion"] = "1"
    body.pop("rootPassword", None)
    body.update(
        kind="sql#instance",
        project=call.project(),
        region=region,
        databaseVersion=version,
        state="RUNNABLE",
        backendType="SECOND_GEN",
        instanceType="CLOUD_SQL_INSTANCE",
        connectionName=f"{call.project()}:{region}:{name}",
        gceZone=f"{region}-a",
        createTime=now(),
        selfLink=_link(call, f"instances/{name}"),
        serviceAccountEmailAddress=f"p{project_number(call.project())}-abcd@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        ipAddresses=_ip_addresses(settings),
        etag=str(call.store.next("etag")),
    )
    table[f"{call.project()}/{name}"] = body
    call.store.table("sql.databases")[f"{call.project()}/{name}/postgres"] = _database(call, name, {"name": "postgres"})
    return 200, _operation(call, "CREATE", name)


@router.route("GET", BASE + "/instances")
def list_instances(call: Call) -> Reply:
    prefix = f"{call.project()}/"
    items = [i for k, i in sorted(call.store.table("sql.instances").items()) if k.startswith(prefix)]
    return 200, {"kind": "sql#instancesList", "items": items} if items else {"kind": "sql#instancesList"}


@router.route("GET", BASE + "/instances/{instance}")
def get_instance(call: Call) -> Reply:
    return 200, _instance(call)


def _update(call: Call, replace: bool) -> Reply:
    instance = _instance(call)
    body = copy.deepcopy(call.json())
    body.pop("rootPassword", None)
    settings = body.pop("settings", None)
    for key in ("name", "project", "connectionName", "region", "kind", "selfLink", "state"):
        body.pop(key, None)
    _merge(instance, body)
    if settings is not None:
        version = int(instance["settings"].get("settingsVersion", "1"))
        sent = settings.get("settingsVersion")
        if sent and int(sent) != version:
            raise ApiError(412, "FAILED_PRECONDITION", "Precondition check failed (settingsVersion is stale).")
        wanted = (settings.get("ipConfiguration") or {}).get("privateNetwork")
        if wanted and wanted != (instance["settings"].get("ipConfiguration") or {}).get("privateNetwork"):
            _require_private_services_access(call, wanted)
        if replace:
            instance["settings"] = settings
        else:
            _merge(instance["settings"], settings)
        instance["settings"]["settingsVersion"] = str(version + 1)
        instance["ipAddresses"] = _ip_addresses(instance["settings"])
    instance["etag"] = str(call.store.next("etag"))
    return 200, _operation(call, "UPDATE", call.p("instance"))


@router.route("PATCH", BASE + "/instances/{instance}")
def patch_instance(call: Call) -> Reply:
    return _update(call, replace=False)


@router.route("PUT", BASE + "/instances/{instance}")
def update_instance(call: Call) -> Reply:
    return _update(call, replace=True)


@router.route("DELETE", BASE + "/instances/{instance}")
def delete_instance(call: Call) -> Reply:
    instance = _instance(call)
    if (instance.get("settings") or {}).get("deletionProtectionEnabled"):
        raise ApiError(400, "FAILED_PRECONDITION", "The instance is protected. Disable deletion protection first.")
    name = call.p("instance")
    for table in ("sql.databases", "sql.users"):
        rows = call.store.table(table)
        for key in [k for k in rows if k.startswith(f"{call.project()}/{name}/")]:
            rows.pop(key)
    call.store.table("sql.instances").pop(f"{call.project()}/{name}")
    return 200, _operation(call, "DELETE", name)


# ------------------------------------------------------------------------------------------ databases


def _database(call: Call, instance: str, body: JSON) -> JSON:
    name = body["name"]
    return {
        "kind": "sql#database",
        "name": name,
        "instance": instance,
        "project": call.project(),
        "charset": body.get("charset") or "UTF8",
        "collation": body.get("collation") or "en_US.UTF8",
        "selfLink": _link(call, f"instances/{instance}/databases/{name}"),
        "etag": str(call.store.next("etag")),
    }


@router.route("POST", BASE + "/instances/{instance}/databases")
def create_database(call: Call) -> Reply:
    _instance(call)
    body = call.json()
    name = body.get("name") or ""
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$", name):
        raise invalid(f"Invalid database name {name!r}.")
    key = f"{call.project()}/{call.p('instance')}/{name}"
    table = vacant(call, "sql.databases", key, f"Database {name} already exists on instance {call.p('instance')}.")
    table[key] = _database(call, call.p("instance"), body)
    return 200, _operation(call, "CREATE_DATABASE", call.p("instance"))


@router.route("GET", BASE + "/instances/{instance}/databases")
def list_databases(call: Call) -> Reply:
    _instance(call)
    prefix = f"{call.project()}/{call.p('instance')}/"
    items = [d for k, d in sorted(call.store.table("sql.databases").items()) if k.startswith(prefix)]
    return 200, {"kind": "sql#databasesList", "items": items}


def _db(call: Call) -> JSON:
    _instance(call)
    database = call.store.table("sql.databases").get(f"{call.project()}/{call.p('instance')}/{call.p('database')}")
    if database is None:
        raise not_found(f"Database {call.p('database')}")
    return database


@router.route("GET", BASE + "/instances/{instance}/databases/{database}")
def get_database(call: Call) -> Reply:
    return 200, _db(call)


@router.route("PATCH", BASE + "/instances/{instance}/databases/{database}")
def patch_database(call: Call) -> Reply:
    database = _db(call)
    database.update({k: v for k, v in call.json().items() if k in ("charset", "collation")})
    return 200, _operation(call, "UPDATE_DATABASE", call.p("instance"))


@router.route("DELETE", BASE + "/instances/{instance}/databases/{database}")
def delete_database(call: Call) -> Reply:
    _db(call)
    call.store.table("sql.databases").pop(f"{call.project()}/{call.p('instance')}/{call.p('database')}")
    return 200, _operation(call, "DELETE_DATABASE", call.p("instance"))


# ---------------------------------------------------------------------------------------------- users


def _user_key(call: Call, name: str, host: str = "") -> str:
    return f"{call.project()}/{call.p('instance')}/{name}@{host}"


def _set_password(user: JSON, body: JSON) -> None:
    password = body.get("password")
    if password:
        user["passwordSha256"] = hashlib.sha256(str(password).encode()).hexdigest()
        user["passwordChanges"] = user.get("passwordChanges", 0) + 1


def _public_user(user: JSON) -> JSON:
    return {k: v for k, v in user.items() if k not in ("passwordSha256", "passwordChanges")}


@router.route("POST", BASE + "/instances/{instance}/users")
def create_user(call: Call) -> Reply:
    _instance(call)
    body = call.json()
    name, host = body.get("name") or "", body.get("host") or ""
    if not name:
        raise invalid("A user needs a name.")
    table = vacant(
        call, "sql.users", _user_key(call, name, host), f"User {name} already exists on instance {call.p('instance')}."
    )
    user: dict[str, Any] = {
        "kind": "sql#user",
        "name": name,
        "host": host,
        "instance": call.p("instance"),
        "project": call.project(),
        "type": body.get("type") or "BUILT_IN",
        "etag": str(call.store.next("etag")),
    }
    _set_password(user, body)
    table[_user_key(call, name, host)] = user
    return 200, _operation(call, "CREATE_USER", call.p("instance"))


@router.route("GET", BASE + "/instances/{instance}/users")
def list_users(call: Call) -> Reply:
    _instance(call)
    prefix = f"{call.project()}/{call.p('instance')}/"
    items = [_public_user(u) for k, u in sorted(call.store.table("sql.users").items()) if k.startswith(prefix)]
    return 200, {"kind": "sql#usersList", "items": items}


def _user(call: Call, name: str) -> JSON:
    _instance(call)
    user = call.store.table("sql.users").get(_user_key(call, name, call.query.get("host", "")))
    if user is None:
        raise not_found(f"User {name}")
    return user


@router.route("GET", BASE + "/instances/{instance}/users/{name}")
def get_user(call: Call) -> Reply:
    return 200, _public_user(_user(call, call.p("name")))


@router.route("PUT", BASE + "/instances/{instance}/users")
def update_user(call: Call) -> Reply:
    body = call.json()
    user = _user(call, call.query.get("name") or body.get("name") or "")
    _set_password(user, body)
    user["etag"] = str(call.store.next("etag"))
    return 200, _operation(call, "UPDATE_USER", call.p("instance"))


@router.route("DELETE", BASE + "/instances/{instance}/users")
def delete_user(call: Call) -> Reply:
    name = call.query.get("name") or ""
    _user(call, name)
    call.store.table("sql.users").pop(_user_key(call, name, call.query.get("host", "")))
    return 200, _operation(call, "DELETE_USER", call.p("instance"))
