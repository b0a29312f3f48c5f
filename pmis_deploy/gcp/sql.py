"""Cloud SQL PostgreSQL (G1-G4): instance with PITR and retained backups, database, application user."""

from __future__ import annotations

import secrets
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import private_access
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change
from pmis_deploy.redaction import register_secret

SQL_TIMEOUT = 3600.0  # instance creation takes 5-15 minutes on real GCP


def network(ctx: Ctx) -> str | None:
    """The VPC for a private IP (None: public IP, reached only through the Cloud SQL connector)."""
    gcp = ctx.settings.gcp
    if not gcp.sql.private_ip:
        return None
    return f"projects/{gcp.project}/global/networks/{gcp.egress.network}"


def drift(ctx: Ctx, instance: dict[str, Any]) -> list[str]:
    """What differs from the configured backups/PITR/availability (things `patch` can fix)."""
    sql = ctx.settings.gcp.sql
    s = instance.get("settings", {})
    backup = s.get("backupConfiguration", {})
    out = []
    if s.get("availabilityType", sql.availability_type.value) != sql.availability_type.value:
        out.append(f"availability {s.get('availabilityType')} → {sql.availability_type.value}")
    if not backup.get("pointInTimeRecoveryEnabled", True):
        out.append("point-in-time recovery off → on")
    retained = backup.get("backupRetentionSettings", {}).get("retainedBackups")
    if retained is not None and int(retained) != sql.retained_backups:
        out.append(f"retained backups {retained} → {sql.retained_backups}")
    if backup.get("enabled") is False:
        out.append("backups off → on")
    return out


def needs_private_ip(ctx: Ctx, instance: dict[str, Any]) -> bool:
    """sql.private_ip is set but the instance (created with a public IP only) has no private network."""
    private = (instance.get("settings", {}).get("ipConfiguration") or {}).get("privateNetwork")
    return network(ctx) is not None and not private


def new_password() -> str:
    """48 hex characters: valid for Cloud SQL and safe inside a URL without escaping."""
    value = secrets.token_hex(24)
    register_secret(value)
    return value


def plan(ctx: Ctx, seen: Observed, phases: Phases, password: str | None) -> str:
    """Plan the instance, database and user; return the application user's password (existing or new).

    With a private IP, the network's private services access comes first, in the same chain as the create.
    """
    n, sql = ctx.names, ctx.settings.gcp.sql
    gc = ctx.gcloud
    network_first = private_access.plan(ctx, seen)
    if seen.sql_instance is None:
        detail = (
            f"{sql.database_version} {sql.tier} {sql.availability_type.value}, PITR, "
            f"{sql.retained_backups} backups" + (", private IP" if network(ctx) else "")
        )
        create = g.sql_instance_create(n.sql_instance, ctx.settings.gcp, network(ctx))
        instance = change(
            f"sql instance {n.sql_instance}", "create", detail, lambda: gc.run(create, timeout=SQL_TIMEOUT)
        )
        phases.chain(2, *network_first, instance)
    else:
        version = seen.sql_instance.get("databaseVersion", "")
        if version and version != sql.database_version:
            from pmis_deploy.console import warn

            warn(f"{n.sql_instance} runs {version}, settings say {sql.database_version}: upgrade it deliberately")
        differences = drift(ctx, seen.sql_instance)
        add_private = network(ctx) if needs_private_ip(ctx, seen.sql_instance) else None
        if add_private:
            differences.append(
                f"private IP on {ctx.settings.gcp.egress.network} (the public IP stays until you remove it)"
            )
        patches = []
        if differences:
            patch = g.sql_instance_patch(n.sql_instance, ctx.settings.gcp, add_private)
            patches.append(
                change(
                    f"sql instance {n.sql_instance}",
                    "update",
                    "; ".join(differences),
                    lambda: gc.run(patch, timeout=SQL_TIMEOUT),
                )
            )
        phases.chain(2, *network_first, *patches)  # a new private IP needs the peering first
    if sql.database not in seen.databases:
        create_db = g.sql_database_create(sql.database, n.sql_instance)
        phases.add(3, change(f"sql database {sql.database}", "create", "", lambda: gc.run(create_db)))
    user_exists = sql.user in seen.users
    if password is not None and user_exists:
        return password
    value = password or new_password()
    if user_exists:  # the password was lost (secret missing): set a new one
        cmd = g.sql_user_set_password(sql.user, n.sql_instance, value)
        phases.add(3, change(f"sql user {sql.user}", "update", "new generated password", lambda: gc.run(cmd)))
    else:
        cmd = g.sql_user_create(sql.user, n.sql_instance, value)
        phases.add(3, change(f"sql user {sql.user}", "create", "generated password", lambda: gc.run(cmd)))
    return value


def database_url(ctx: Ctx, password: str) -> str:
    """The Cloud SQL unix-socket URL the services use (Cloud Run mounts /cloudsql/<connection>)."""
    sql, n = ctx.settings.gcp.sql, ctx.names
    return f"postgresql+psycopg://{sql.user}:{password}@/{sql.database}?host=/cloudsql/{n.connection_name}"
