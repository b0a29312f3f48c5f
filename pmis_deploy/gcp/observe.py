"""The batched, concurrent reads that provision plans from: list once, never describe N times.

Round 1 lists every kind of resource at once; round 2 reads what depends on round 1 (databases and
users of the instance, the Redis AUTH string, each existing secret's latest version and IAM policy).
A read of an API that is not enabled yet reads as "nothing there" (the plan enables it first).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.errors import ApiNotEnabled, NotFound
from pmis_deploy.gcp.names import INTERNAL_SECRETS, SECRET_ENV, WORKLOAD_SECRETS
from pmis_deploy.gcp.settings import EgressMode
from pmis_deploy.redaction import register_secret

T = TypeVar("T")


@dataclass(frozen=True)
class SecretVersion:
    version: str  # "3"
    value: str


@dataclass
class Observed:
    enabled_apis: set[str] = field(default_factory=set)
    sql_instance: dict[str, Any] | None = None
    databases: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    redis: dict[str, Any] | None = None
    redis_auth: str | None = None
    repositories: set[str] = field(default_factory=set)
    service_accounts: set[str] = field(default_factory=set)  # emails
    project_policy: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)  # secret ids
    secret_latest: dict[str, SecretVersion] = field(default_factory=dict)  # secret id → latest version
    secret_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    connectors: set[str] = field(default_factory=set)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # displayName → dashboard
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # displayName → alert policy
    bucket: bool = False
    # Private services access (read only with gcp.sql.private_ip): allocated ranges by name, and the
    # Service Networking connection of egress.network (None: not peered).
    peering_ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_peering: dict[str, Any] | None = None


def last(name: str) -> str:
    """The last path segment of a resource name (projects/p/secrets/x → x)."""
    return name.rstrip("/").rsplit("/", 1)[-1]


def _safe(ctx: Ctx, cmd: Cmd, default: T) -> Callable[[], Any]:
    def read() -> Any:
        try:
            result = ctx.gcloud.run(cmd)
        except (NotFound, ApiNotEnabled):
            return default
        return default if result is None else result

    return read


def observe(ctx: Ctx) -> Observed:
    n = ctx.names
    reads: dict[str, Callable[[], Any]] = {
        "apis": _safe(ctx, g.services_list_enabled(), []),
        "sql": _safe(ctx, g.sql_instances_list(), []),
        "redis": _safe(ctx, g.redis_instances_list(), []),
        "repos": _safe(ctx, g.ar_repositories_list(), []),
        "sas": _safe(ctx, g.sa_list(), []),
        "policy": _safe(ctx, g.project_get_iam_policy(n.project), {}),
        "secrets": _safe(ctx, g.secrets_list(), []),
        "dashboards": _safe(ctx, g.dashboards_list(), []),
        "policies": _safe(ctx, g.policies_list(), []),
        "bucket": _safe(ctx, g.bucket_describe(n.state_bucket), None),
    }
    if ctx.settings.gcp.egress.mode is EgressMode.connector:
        reads["connectors"] = _safe(ctx, g.connectors_list(), [])
    reads.update(private_access_reads(ctx))
    values = dict(zip(reads, ctx.gcloud.parallel(reads.values()), strict=True))
    seen = Observed(
        enabled_apis={item.get("config", {}).get("name") or last(item.get("name", "")) for item in values["apis"]},
        sql_instance=next((i for i in values["sql"] if i.get("name") == n.sql_instance), None),
        redis=next((i for i in values["redis"] if last(i.get("name", "")) == n.redis_instance), None),
        repositories={last(r.get("name", "")) for r in values["repos"]},
        service_accounts={sa.get("email", "") for sa in values["sas"]},
        project_policy=values["policy"],
        secrets={last(s.get("name", "")) for s in values["secrets"]},
        connectors={last(c.get("name", "")) for c in values.get("connectors", [])},
        dashboards={d.get("displayName", ""): d for d in values["dashboards"]},
        policies={p.get("displayName", ""): p for p in values["policies"]},
        bucket=values["bucket"] is not None,
    )
    read_private_access(seen, values)
    _round_two(ctx, seen)
    return seen


def private_access_reads(ctx: Ctx) -> dict[str, Callable[[], Any]]:
    """The reads of private services access (none for a public IP): allocated ranges, the peering."""
    if not ctx.settings.gcp.sql.private_ip:
        return {}
    return {
        "ranges": _safe(ctx, g.peering_ranges_list(), []),
        "peerings": _safe(ctx, g.vpc_peerings_list(ctx.settings.gcp.egress.network), []),
    }


def read_private_access(seen: Observed, values: dict[str, Any]) -> None:
    """Fill `seen` from the values of `private_access_reads` (absent: nothing there)."""
    seen.peering_ranges = {r.get("name", ""): r for r in values.get("ranges", [])}
    service = f"services/{g.SERVICE_NETWORKING_API}"
    seen.service_peering = next((p for p in values.get("peerings", []) if p.get("service") == service), None)


def _round_two(ctx: Ctx, seen: Observed) -> None:
    n = ctx.names
    jobs: dict[str, Callable[[], Any]] = {}
    if seen.sql_instance is not None:
        jobs["databases"] = _safe(ctx, g.sql_databases_list(n.sql_instance), [])
        jobs["users"] = _safe(ctx, g.sql_users_list(n.sql_instance), [])
    if seen.redis is not None and seen.redis.get("authEnabled"):
        jobs["auth"] = _safe(ctx, g.redis_get_auth_string(n.redis_instance), {})
    ours = [n.secret(k) for k in (*SECRET_ENV, *INTERNAL_SECRETS)]
    read_by_someone = {n.secret(k) for keys in WORKLOAD_SECRETS.values() for k in keys}
    for secret in ours:
        if secret in seen.secrets:
            jobs[f"value:{secret}"] = _safe(ctx, g.secret_access(secret), None)
            if secret in read_by_someone:
                jobs[f"policy:{secret}"] = _safe(ctx, g.secret_get_iam_policy(secret), {})
    values = dict(zip(jobs, ctx.gcloud.parallel(jobs.values()), strict=True))
    seen.databases = {d.get("name", "") for d in values.get("databases", [])}
    seen.users = {u.get("name", "") for u in values.get("users", [])}
    auth = values.get("auth", {}).get("authString")
    if auth:
        register_secret(auth)
        seen.redis_auth = auth
    for key, value in values.items():
        if key.startswith("value:") and value:
            seen.secret_latest[key[6:]] = decode_access(value)
        elif key.startswith("policy:"):
            seen.secret_policies[key[7:]] = value


def decode_access(response: dict[str, Any]) -> SecretVersion:
    """The version id and the decoded payload of `secrets versions access --format=json` (registered)."""
    encoded = response.get("payload", {}).get("data", "")
    # protobuf JSON bytes: standard or URL-safe alphabet, padding optional
    data = base64.urlsafe_b64decode(encoded.replace("+", "-").replace("/", "_") + "=" * (-len(encoded) % 4)).decode()
    register_secret(data)
    return SecretVersion(last(response.get("name", "0")), data)
