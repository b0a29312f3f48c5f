"""Memorystore Redis 7 (G5-G7): AUTH on, transit encryption, the AUTH string from get-auth-string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import SECRET_ENV
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change
from pmis_deploy.redaction import register_secret

REDIS_TIMEOUT = 3600.0


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    n, redis = ctx.names, ctx.settings.gcp.redis
    if seen.redis is None:
        cmd = g.redis_instance_create(n.redis_instance, ctx.settings.gcp, ctx.settings.gcp.egress.network)
        detail = f"{redis.version} {redis.tier.value} {redis.size_gb} GB, AUTH" + (
            ", TLS" if redis.transit_encryption else ""
        )
        phases.add(
            2,
            change(
                f"redis instance {n.redis_instance}",
                "create",
                detail,
                lambda: ctx.gcloud.run(cmd, timeout=REDIS_TIMEOUT),
            ),
        )
        return
    if not seen.redis.get("authEnabled"):
        from pmis_deploy.console import warn

        warn(f"{n.redis_instance} has AUTH disabled: enable it (`gcloud redis instances update --enable-auth`)")


CA_PATH = SECRET_ENV["redis-ca"]  # where Cloud Run mounts the server CA (secret redis-ca)


@dataclass(frozen=True)
class Connection:
    """How the services reach Redis: the URL (with the AUTH string) and the server CA (TLS only)."""

    url: str
    auth: str
    ca: str | None


def connection(instance: dict[str, Any], auth: str, *, tls: bool) -> Connection:
    """rediss:// verified against the instance's server CA (mounted at CA_PATH), or redis:// without TLS."""
    register_secret(auth)
    host, port = instance.get("host", "127.0.0.1"), instance.get("port", 6378 if tls else 6379)
    if not tls:
        return Connection(f"redis://:{auth}@{host}:{port}/0", auth, None)
    certs = instance.get("serverCaCerts") or []
    ca = certs[0].get("cert") if certs else None
    query = f"?ssl_cert_reqs=required&ssl_ca_certs={CA_PATH}" if ca else "?ssl_cert_reqs=required"
    return Connection(f"rediss://:{auth}@{host}:{port}/0{query}", auth, ca)


def read(ctx: Ctx) -> Connection:
    """Describe the instance and read its AUTH string now (after it was created in this run)."""
    n = ctx.names
    instance, auth = ctx.gcloud.run_all(
        [
            g.Cmd(("redis", "instances", "describe"), (n.redis_instance,), scope="region"),
            g.redis_get_auth_string(n.redis_instance),
        ]
    )
    return connection(instance, (auth or {}).get("authString", ""), tls=ctx.settings.gcp.redis.transit_encryption)
