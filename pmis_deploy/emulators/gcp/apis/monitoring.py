"""Cloud Monitoring: v1 dashboards, v3 alert policies, notification channels and uptime checks.

All four are plain collections (create/list/get/patch/delete) under `projects/P`; dashboards keep an
etag, and a PATCH with a stale etag is a 409 ABORTED as on GCP. gcloud: `monitoring dashboards`,
`alpha|beta monitoring policies` / `channels`, `monitoring uptime`.
"""

from __future__ import annotations

import copy
import re
import secrets

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    invalid,
    not_found,
    now,
    page,
    project_number,
    update_mask,
)

router = Router()
# collection -> (API version, the name's project part uses the number?)
COLLECTIONS = {
    "dashboards": "v1",
    "alertPolicies": "v3",
    "notificationChannels": "v3",
    "uptimeCheckConfigs": "v3",
}


def _new_id(collection: str, body: JSON) -> str:
    if collection == "dashboards":
        return str(secrets.randbits(63))
    if collection == "uptimeCheckConfigs":
        slug = re.sub(r"[^a-z0-9]+", "-", str(body.get("displayName", "check")).lower()).strip("-")
        return f"{slug}-{secrets.token_hex(4)}"
    return str(secrets.randbits(63))


def _register(collection: str, version: str) -> None:
    base = f"{version}/projects/{{project}}/{collection}"
    table_name = f"monitoring.{collection}"

    def name_of(call: Call, item_id: str) -> str:
        project = project_number(call.project()) if collection == "dashboards" else call.project()
        return f"projects/{project}/{collection}/{item_id}"

    def find(call: Call) -> JSON:
        item = call.store.table(table_name).get(f"{call.project()}/{call.p('id')}")
        if item is None:
            raise not_found(f"{collection[:-1]} {name_of(call, call.p('id'))}")
        return item

    def stamp(item: JSON) -> None:
        record = {"mutateTime": now(), "mutatedBy": "fake-deployer@pmis.local"}
        if collection == "dashboards":
            item["etag"] = secrets.token_hex(16)
        elif collection == "alertPolicies":
            item.setdefault("creationRecord", record)
            item["mutationRecord"] = record

    def create(call: Call) -> Reply:
        body = copy.deepcopy(call.json())
        if not body.get("displayName") and collection != "uptimeCheckConfigs":
            raise invalid(f"A {collection[:-1]} needs a displayName.")
        if collection == "alertPolicies" and not body.get("conditions"):
            raise invalid("An alert policy needs at least one condition.")
        item_id = _new_id(collection, body)
        body["name"] = name_of(call, item_id)
        if collection in ("alertPolicies", "notificationChannels"):
            body.setdefault("enabled", True)
        stamp(body)
        if call.query.get("validateOnly") not in (None, "", "False", "false"):
            return 200, body
        call.store.table(table_name)[f"{call.project()}/{item_id}"] = body
        return 200, body

    def list_items(call: Call) -> Reply:
        prefix = f"{call.project()}/"
        items = [i for k, i in sorted(call.store.table(table_name).items()) if k.startswith(prefix)]
        return 200, page(items, call, collection)

    def get(call: Call) -> Reply:
        return 200, find(call)

    def patch(call: Call) -> Reply:
        item = find(call)
        body = copy.deepcopy(call.json())
        if collection == "dashboards":
            if body.get("etag") and body["etag"] != item["etag"]:
                raise ApiError(409, "ABORTED", "The dashboard was modified since it was read (etag mismatch).")
            keep = {"name": item["name"]}
            item.clear()
            item.update({**body, **keep})
        else:
            for field in update_mask(call, body):
                if field in ("name", "creationRecord", "mutationRecord"):
                    continue
                if field in body:
                    item[field] = body[field]
                else:
                    item.pop(field, None)
        stamp(item)
        return 200, item

    def delete(call: Call) -> Reply:
        find(call)
        call.store.table(table_name).pop(f"{call.project()}/{call.p('id')}")
        return 200, {}

    router.route("POST", base)(create)
    router.route("GET", base)(list_items)
    router.route("GET", base + "/{id}")(get)
    router.route("PATCH", base + "/{id}")(patch)
    router.route("DELETE", base + "/{id}")(delete)


for _collection, _version in COLLECTIONS.items():
    _register(_collection, _version)
