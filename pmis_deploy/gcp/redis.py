"""Memorystore Redis 7 (G5-G7): AUTH on, transit encryption, the AUTH string from get-auth-string."""

from __future__ import annotations

from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
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


def url(instance: dict[str, Any], auth: str, *, tls: bool) -> str:
    """rediss:// (TLS, verified against the server CA Cloud Run mounts) or redis:// with the AUTH string."""
    host, port = instance.get("host", "127.0.0.1"), instance.get("port", 6378 if tls else 6379)
    if tls:
        return f"rediss://:{auth}@{host}:{port}/0?ssl_cert_reqs=required"
    return f"redis://:{auth}@{host}:{port}/0"


def read_url(ctx: Ctx) -> str:
    """Describe the instance and read its AUTH string now (after it was created in this run)."""
    n = ctx.names
    instance, auth = ctx.gcloud.run_all(
        [
            g.Cmd(("redis", "instances", "describe"), (n.redis_instance,), scope="region"),
            g.redis_get_auth_string(n.redis_instance),
        ]
    )
    value = (auth or {}).get("authString", "")
    register_secret(value)
    return url(instance, value, tls=ctx.settings.gcp.redis.transit_encryption)
