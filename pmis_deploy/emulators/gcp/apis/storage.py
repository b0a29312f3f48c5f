"""Cloud Storage JSON API (as `gcloud storage` calls it): buckets, objects, generation preconditions.

With the override http://127.0.0.1:P/storage/ gcloud sends `b/...` (metadata), `upload/storage/v1/b/...`
(uploads: media, multipart, resumable) and `download/storage/v1/b/...?alt=media` (downloads).
`ifGenerationMatch=0` (create only if absent) and the other preconditions answer 412 when they do not
hold, which is what makes an object usable as a deploy lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Raw,
    Reply,
    Router,
    crc32c,
    invalid,
    now,
    page,
    project_number,
)

router = Router()
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
FIRST_GENERATION = 1_700_000_000_000_000


def _no_bucket(bucket: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"The specified bucket does not exist: {bucket}")


def _no_object(bucket: str, name: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"No such object: {bucket}/{name}")


def _bucket(call: Call) -> JSON:
    bucket = call.store.table("storage.buckets").get(call.p("bucket"))
    if bucket is None:
        raise _no_bucket(call.p("bucket"))
    return bucket


def _objects(call: Call) -> dict[str, JSON]:
    _bucket(call)
    return call.store.table("storage.objects").setdefault(call.p("bucket"), {})


def _public(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k != "media"}


def _check_preconditions(call: Call, current: JSON | None) -> None:
    """ifGenerationMatch / ifGenerationNotMatch / ifMetagenerationMatch / ifMetagenerationNotMatch."""
    generation = int(current["generation"]) if current is not None else 0
    metageneration = int(current["metageneration"]) if current is not None else 0
    checks = {
        "ifGenerationMatch": lambda v: generation == v,
        "ifGenerationNotMatch": lambda v: generation != v,
        "ifMetagenerationMatch": lambda v: current is not None and metageneration == v,
        "ifMetagenerationNotMatch": lambda v: current is None or metageneration != v,
    }
    for name, holds in checks.items():
        value = call.query.get(name)
        if value and not holds(int(value)):
            raise ApiError(
                412,
                "FAILED_PRECONDITION",
                "At least one of the pre-conditions you specified did not hold.",
                [{"reason": "conditionNotMet", "location": name, "locationType": "parameter"}],
            )


# --------------------------------------------------------------------------------------------- buckets


@router.route("POST", "b")
def create_bucket(call: Call) -> Reply:
    body = call.json()
    name = body.get("name", "")
    if not _BUCKET.match(name):
        raise invalid(f"Invalid bucket name: '{name}'")
    table = call.store.table("storage.buckets")
    if name in table:
        raise ApiError(
            409, "ALREADY_EXISTS", "Your previous request to create the named bucket succeeded and you already own it."
        )
    stamp = now()
    table[name] = {
        **{k: v for k, v in body.items() if k not in ("name", "location")},
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "projectNumber": project_number(call.query.get("project", "")),
        "location": (body.get("location") or "US").upper(),
        "storageClass": body.get("storageClass", "STANDARD"),
        "metageneration": "1",
        "etag": "CAE=",
        "timeCreated": stamp,
        "updated": stamp,
    }
    return 200, table[name]


@router.route("GET", "b")
def list_buckets(call: Call) -> Reply:
    number = project_number(call.query.get("project", ""))
    buckets = [b for _, b in sorted(call.store.table("storage.buckets").items()) if b["projectNumber"] == number]
    return 200, {"kind": "storage#buckets", **page(buckets, call, "items")}


@router.route("GET", "b/{bucket+}")
def get_bucket(call: Call) -> Reply:
    return 200, _bucket(call)


@router.route("PATCH", "b/{bucket+}")
def patch_bucket(call: Call) -> Reply:
    bucket = _bucket(call)
    bucket.update({k: v for k, v in call.json().items() if k not in ("name", "id", "kind")})
    bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
    bucket["updated"] = now()
    return 200, bucket


@router.route("DELETE", "b/{bucket+}")
def delete_bucket(call: Call) -> Reply:
    if _objects(call):
        raise ApiError(409, "FAILED_PRECONDITION", "The bucket you tried to delete is not empty.")
    call.store.table("storage.buckets").pop(call.p("bucket"))
    return 204, {}


# --------------------------------------------------------------------------------------------- objects


def _store_object(call: Call, name: str, data: bytes, metadata: JSON) -> JSON:
    objects = _objects(call)
    current = objects.get(name)
    _check_preconditions(call, current)
    generation = FIRST_GENERATION + call.store.next("storage.generation")
    stamp = now()
    bucket = call.p("bucket")
    obj = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "selfLink": f"http://{call.host}/storage/b/{bucket}/o/{quote(name, safe='~')}",
        "mediaLink": f"http://{call.host}/download/storage/v1/b/{bucket}/o/{quote(name, safe='~')}"
        f"?generation={generation}&alt=media",
        "name": name,
        "bucket": bucket,
        "generation": str(generation),
        "metageneration": "1",
        "contentType": metadata.get("contentType")
        or call.headers.get("x-upload-content-type")
        or "application/octet-stream",
        "storageClass": "STANDARD",
        "size": str(len(data)),
        "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324  (GCS's checksum)
        "crc32c": base64.b64encode(crc32c(data).to_bytes(4, "big")).decode(),
        "etag": base64.b64encode(str(generation).encode()).decode(),
        "timeCreated": stamp,
        "updated": stamp,
        "timeStorageClassUpdated": stamp,
        "media": base64.b64encode(data).decode(),
    }
    for field in ("metadata", "cacheControl", "contentEncoding", "contentDisposition", "contentLanguage"):
        if metadata.get(field):
            obj[field] = metadata[field]
    objects[name] = obj
    return _public(obj)


def _multipart(call: Call) -> tuple[JSON, bytes]:
    """Split a multipart/related upload (apitools writes LF line ends and a quoted boundary)."""
    match = re.search(r"boundary=(?:'([^']+)'|\"([^\"]+)\"|([^;\s]+))", call.headers.get("content-type", ""))
    if not match:
        raise invalid("A multipart upload needs a boundary.")
    boundary = ("--" + next(g for g in match.groups() if g)).encode()
    parts = []
    for chunk in call.raw.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        ends = [(i, sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := chunk.find(sep)) >= 0]
        if not ends:
            raise invalid("A multipart part has no header/body separator.")
        index, sep = min(ends)
        content = chunk[index + len(sep) :]
        parts.append(content.removesuffix(b"\n").removesuffix(b"\r"))
    if len(parts) != 2:
        raise invalid("A multipart upload needs a metadata part and a media part.")
    return json.loads(parts[0] or b"{}"), parts[1]


@router.route("POST", "upload/storage/v1/b/{bucket+}/o")
def upload(call: Call) -> Reply:
    kind = call.query.get("uploadType", "media")
    if kind == "media":
        name = call.query.get("name", "")
        return 200, _store_object(call, name, call.raw, {})
    if kind == "multipart":
        metadata, data = _multipart(call)
        return 200, _store_object(call, metadata.get("name") or call.query.get("name", ""), data, metadata)
    if kind == "resumable":
        _objects(call)
        metadata = call.json()
        upload_id = f"upload-{call.store.next('storage.upload')}"
        call.store.table("storage.uploads")[upload_id] = {"metadata": metadata, "query": dict(call.query)}
        location = f"http://{call.host}/{call.api}/upload/storage/v1/b/{call.p('bucket')}/o?uploadType=resumable&upload_id={upload_id}"
        return Raw(200, b"", "text/plain", {"Location": location})
    raise invalid(f"Unsupported uploadType {kind!r}.")


@router.route("PUT", "upload/storage/v1/b/{bucket+}/o")
def resumable_chunk(call: Call) -> Reply:
    pending = call.store.table("storage.uploads").pop(call.query.get("upload_id", ""), None)
    if pending is None:
        raise ApiError(404, "NOT_FOUND", "No such upload session.")
    call.query = {**pending["query"], **call.query}
    metadata = pending["metadata"]
    return 200, _store_object(call, metadata.get("name") or call.query.get("name", ""), call.raw, metadata)


@router.route("GET", "b/{bucket+}/o")
def list_objects(call: Call) -> Reply:
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    items, prefixes = [], set()
    for name, obj in sorted(_objects(call).items()):
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
        else:
            items.append(_public(obj))
    reply: dict[str, Any] = {"kind": "storage#objects", **page(items, call, "items")}
    if prefixes:
        reply["prefixes"] = sorted(prefixes)
    return 200, reply


def _object(call: Call) -> JSON:
    obj = _objects(call).get(call.p("object"))
    if obj is None:
        raise _no_object(call.p("bucket"), call.p("object"))
    wanted = call.query.get("generation")
    if wanted and wanted != obj["generation"]:
        raise _no_object(call.p("bucket"), call.p("object"))
    return obj


def _read(call: Call) -> Reply:
    obj = _object(call)
    _check_preconditions(call, obj)
    if call.query.get("alt") == "media":
        data = base64.b64decode(obj["media"])
        headers = {
            "x-goog-generation": obj["generation"],
            "x-goog-metageneration": obj["metageneration"],
            "x-goog-hash": f"crc32c={obj['crc32c']},md5={obj['md5Hash']}",
            "x-goog-stored-content-length": obj["size"],
        }
        return Raw(200, data, obj["contentType"], headers)
    return 200, _public(obj)


router.route("GET", "b/{bucket+}/o/{object+}")(_read)
router.route("GET", "download/storage/v1/b/{bucket+}/o/{object+}")(_read)


@router.route("DELETE", "b/{bucket+}/o/{object+}")
def delete_object(call: Call) -> Reply:
    obj = _object(call)
    _check_preconditions(call, obj)
    _objects(call).pop(call.p("object"))
    return 204, {}


@router.route("PATCH", "b/{bucket+}/o/{object+}")
def patch_object(call: Call) -> Reply:
    obj = _object(call)
    _check_preconditions(call, obj)
    for field, value in call.json().items():
        if field in ("metadata", "contentType", "cacheControl", "contentDisposition"):
            obj[field] = value
    obj["metageneration"] = str(int(obj["metageneration"]) + 1)
    obj["updated"] = now()
    return 200, _public(obj)
