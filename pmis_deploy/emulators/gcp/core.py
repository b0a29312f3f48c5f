"""Building blocks shared by every fake API: calls, replies, errors, routing, ids, IAM policies, CRC32C."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from pmis_deploy.emulators.gcp.state import Store

JSON = dict[str, Any]

DEFAULT_PROJECT = "pmis-local"


class ApiError(Exception):
    """A Google-style error reply: {"error": {"code", "message", "status", "details"}}."""

    def __init__(self, code: int, status: str, message: str, details: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details or []

    def body(self) -> JSON:
        error: JSON = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} was not found.")


def already_exists(what: str) -> ApiError:
    return ApiError(409, "ALREADY_EXISTS", f"{what} already exists.")


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


@dataclass
class Raw:
    """A non-JSON reply (object media)."""

    status: int
    data: bytes
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


Reply = tuple[int, Any] | Raw


@dataclass
class Call:
    """One request, routed to an API: `path` is what follows the API prefix (no leading slash)."""

    store: Store
    method: str
    host: str
    api: str
    path: str
    query: dict[str, str]
    body: Any
    raw: bytes
    headers: dict[str, str]
    region: str | None = None  # Cloud Run: from the regional host
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> JSON:
        """The body as a JSON object ({} when empty)."""
        if isinstance(self.body, dict):
            return self.body
        if self.body in (None, b"", ""):
            return {}
        raise invalid("The request body must be a JSON object.")

    def p(self, name: str) -> str:
        return self.params[name]

    def project(self, name: str = "project") -> str:
        """The project id of a path parameter (project numbers map back to ids)."""
        return project_id(self.params[name])


Handler = Callable[[Call], Reply]


class Router:
    """Routes (method, path pattern) to handlers.

    `{name}` matches one path segment up to a `:verb`, `{name+}` a whole segment; both are URL-decoded.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        escaped = re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}").replace(r"\+", "+")
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>[^/]+)", escaped)  # {name+}: a segment that may hold ':'
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/:]+)", regex)

        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{regex}$"), handler))
            return handler

        return register

    def dispatch(self, call: Call) -> Reply:
        allowed = False
        for method, regex, handler in self.routes:
            match = regex.match(call.path)
            if not match:
                continue
            allowed = True
            if method == call.method:
                call.params = {k: unquote(v) for k, v in match.groupdict().items()}
                return handler(call)
        if allowed:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"{call.method} is not supported on /{call.path}.")
        raise ApiError(404, "NOT_FOUND", f"The fake GCP has no route for {call.method} /{call.api}/{call.path}.")


# ------------------------------------------------------------------------------------- resources


def location_parent(call: Call) -> str:
    """`projects/P/locations/L` of a regional path (`{project}` and `{location}` parameters)."""
    return f"projects/{call.project()}/locations/{call.p('location')}"


def lookup(call: Call, table: str, name: str, what: str) -> JSON:
    """The stored resource `name` of `table`, or a 404 saying `what` was not found."""
    found: JSON | None = call.store.table(table).get(name)
    if found is None:
        raise not_found(what)
    return found


def vacant(call: Call, table: str, name: str, taken: str) -> dict[str, Any]:
    """The table a new resource `name` goes into; a 409 ALREADY_EXISTS saying `taken` when it is there."""
    rows = call.store.table(table)
    if name in rows:
        raise ApiError(409, "ALREADY_EXISTS", taken)
    return rows


def under(call: Call, table: str, prefix: str) -> list[JSON]:
    """The resources of `table` whose names start with `prefix`, in name order."""
    return [r for k, r in sorted(call.store.table(table).items()) if k.startswith(prefix)]


def location_operation(call: Call, response: JSON, metadata: JSON | None = None) -> JSON:
    """A new long-running operation under the call's `projects/P/locations/L`."""
    return call.store.operation(call.store.new_op_name(location_parent(call)), response, metadata)


def get_location_operation(call: Call) -> Reply:
    """GET `.../locations/L/operations/{op}`: poll an operation made by `location_operation`."""
    return 200, call.store.poll(f"{location_parent(call)}/operations/{call.p('op')}")


# ----------------------------------------------------------------------------------------------- ids


def now() -> str:
    """RFC 3339 UTC timestamp with microseconds, like the GCP APIs."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def rand_suffix(n: int, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_uid() -> str:
    return str(uuid.uuid4())


def op_id() -> str:
    return f"operation-{int(time.time() * 1000)}-{secrets.token_hex(6)}"


_NUMBERS: dict[str, str] = {}


def project_number(project: str) -> str:
    """A stable 12-digit project number for a project id (the real APIs answer with numbers)."""
    if project.isdigit():
        return project
    number = str(100000000000 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % 899999999999)
    _NUMBERS[number] = project
    return number


def project_id(project: str) -> str:
    """Map a project number back to the id it was derived from (ids pass through)."""
    return _NUMBERS.get(project, project)


# ------------------------------------------------------------------------------------------ IAM


def policy_etag(version: int) -> str:
    return base64.b64encode(f"etag-{version}".encode()).decode()


def get_policy(store: Store, resource: str) -> JSON:
    """The IAM policy of a resource (an empty version-1 policy when none was set)."""
    stored = store.table("iam.policies").get(resource)
    if stored is None:
        return {"version": 1, "etag": policy_etag(0)}
    return dict(stored)


def set_policy(store: Store, resource: str, body: JSON) -> JSON:
    """setIamPolicy with etag checking: a stale etag is a 409 ABORTED, as on GCP."""
    policy = body.get("policy")
    if not isinstance(policy, dict):
        raise invalid("setIamPolicy needs a policy.")
    current = get_policy(store, resource)
    if policy.get("etag") and policy["etag"] != current["etag"]:
        raise ApiError(
            409,
            "ABORTED",
            "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
        )
    serial = int(base64.b64decode(current["etag"]).decode().split("-")[1]) + 1
    stored = {k: v for k, v in policy.items() if k != "etag"}
    stored["bindings"] = [b for b in stored.get("bindings", []) if b.get("members")]
    if not stored["bindings"]:
        stored.pop("bindings")
    stored.setdefault("version", 1)
    stored["etag"] = policy_etag(serial)
    store.table("iam.policies")[resource] = stored
    return dict(stored)


def test_permissions(call: Call) -> Reply:
    """testIamPermissions: the fake grants every permission asked for."""
    return 200, {"permissions": call.json().get("permissions", [])}


# ------------------------------------------------------------------------------------------ CRC32C


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), as Secret Manager and Cloud Storage checksum payloads."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def update_mask(call: Call, body: JSON) -> list[str]:
    """The fields of an update: `updateMask` (snake_case or camelCase paths) or else the body's keys."""
    mask = call.query.get("updateMask") or call.query.get("update_mask") or ",".join(body)
    return [".".join(_camel(part) for part in path.strip().split(".")) for path in mask.split(",") if path.strip()]


def page(items: list[Any], call: Call, key: str) -> JSON:
    """A list reply with pageSize/pageToken support (tokens are offsets)."""
    start = int(call.query.get("pageToken") or 0)
    size = int(call.query.get("pageSize") or call.query.get("maxResults") or 0) or len(items) or 1
    chunk = items[start : start + size]
    reply: JSON = {key: chunk} if chunk else {}
    if start + size < len(items):
        reply["nextPageToken"] = str(start + size)
    return reply
