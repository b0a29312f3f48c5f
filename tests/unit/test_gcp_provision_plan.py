"""Provision planning from an observed state (no gcloud): converged → no changes; one difference →
exactly that change. Planning never runs a command (the runner is in dry-run and has no binary)."""

from __future__ import annotations

from pmis_deploy.config import load_settings
from pmis_deploy.gcp import apis, iam, monitoring, registry, secrets
from pmis_deploy.gcp import redis as redis_
from pmis_deploy.gcp.argv import REQUIRED_APIS
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.observe import Observed, SecretVersion
from pmis_deploy.gcp.plan import Phases
from pmis_deploy.gcp.provision import secret_values
from pmis_deploy.gcp.runner import Gcloud


def make_ctx() -> Ctx:
    settings = load_settings("staging", environ={"AZURE_OPENAI_API_KEY": "az-key-123456"}).settings
    gcloud = Gcloud(settings.gcp.project, settings.gcp.region, dry_run=True, binary="/nonexistent/gcloud")
    return Ctx(gcloud, settings, GcpNames.of(settings))


def converged(ctx: Ctx) -> Observed:
    n, gcp = ctx.names, ctx.settings.gcp
    redis = {"name": f"projects/p/locations/r/instances/{n.redis_instance}", "host": "10.0.0.3", "port": 6378,
             "authEnabled": True, "serverCaCerts": [{"cert": "CA"}]}  # fmt: skip
    seen = Observed(
        enabled_apis=set(REQUIRED_APIS),
        sql_instance={"name": n.sql_instance, "databaseVersion": "POSTGRES_15", "settings": {
            "availabilityType": gcp.sql.availability_type.value,
            "backupConfiguration": {"enabled": True, "pointInTimeRecoveryEnabled": True,
                                    "backupRetentionSettings": {"retainedBackups": gcp.sql.retained_backups}}}},
        databases={gcp.sql.database},
        users={gcp.sql.user},
        redis=redis,
        redis_auth="auth-string-0001",
        repositories={n.repository},
        service_accounts={n.sa_email(w) for w in ("api", "worker", "web", "migrate", "scheduler")},
        bucket=True,
    )  # fmt: skip
    seen.project_policy = iam.with_members(
        {}, iam.SQL_CLIENT, [iam.member(n.sa_email(w)) for w in ("api", "worker", "migrate")]
    )
    conn = redis_.connection(redis, "auth-string-0001", tls=True)
    password = "p" * 48
    stored = {
        "db-password": password,
        "database-url": f"postgresql+psycopg://pmis_app:{password}@/pmis?host=/cloudsql/{n.connection_name}",
        "redis-auth": conn.auth,
        "redis-url": conn.url,
        "celery-broker": conn.url,
        "redis-ca": "CA",
        "azure-openai-key": "az-key-123456",
    }
    for key, value in stored.items():
        seen.secrets.add(n.secret(key))
        seen.secret_latest[n.secret(key)] = SecretVersion("4", value)
    for secret, readers in iam.secret_readers(ctx).items():
        seen.secret_policies[secret] = iam.with_members({}, iam.SECRET_ACCESSOR, readers)
    seen.dashboards = {n.dashboard: {"name": "d/1", "etag": "e", **monitoring.dashboard(ctx)}}
    seen.policies = {p["displayName"]: {"name": "p/1", **p} for p in monitoring.alert_policies(ctx)}
    return seen


def plan_all(ctx: Ctx, seen: Observed) -> tuple[Phases, dict[str, str]]:
    phases = Phases()
    apis.plan(ctx, seen, phases)
    registry.plan(ctx, seen, phases)
    redis_.plan(ctx, seen, phases)
    versions = secrets.plan(ctx, seen, phases, secret_values(ctx, seen, phases))
    iam.plan(ctx, seen, phases)
    monitoring.plan(ctx, seen, phases)
    return phases, versions


def test_converged_state_plans_nothing_and_pins_current_versions() -> None:
    ctx = make_ctx()
    phases, versions = plan_all(ctx, converged(ctx))
    assert [c.row() for c in phases.changes] == []
    assert versions[ctx.names.secret("database-url")] == "4"
    assert ctx.gcloud.invocations == 0


def test_one_changed_value_adds_one_version_and_nothing_else() -> None:
    ctx = make_ctx()
    seen = converged(ctx)
    seen.secret_latest[ctx.names.secret("azure-openai-key")] = SecretVersion("4", "old-key-99999")
    phases, versions = plan_all(ctx, seen)
    assert [c.row()[:2] for c in phases.changes] == [("add version", "secret pmis-staging-azure-openai-key")]
    assert versions["pmis-staging-azure-openai-key"] == secrets.PENDING
    assert "old-key" not in str([c.row() for c in phases.changes])


def test_missing_pieces_are_planned_in_dependency_phases() -> None:
    ctx = make_ctx()
    seen = converged(ctx)
    seen.enabled_apis.discard("redis.googleapis.com")
    seen.users.clear()
    seen.secrets.discard("pmis-staging-db-password")
    del seen.secret_latest["pmis-staging-db-password"]
    seen.service_accounts.discard(ctx.names.sa_email("migrate"))
    seen.project_policy = {}
    seen.sql_instance["settings"]["backupConfiguration"]["pointInTimeRecoveryEnabled"] = False  # type: ignore[index]
    phases, _ = plan_all(ctx, seen)
    rows = {p: [c.row()[:2] for c in phases.by_phase[p]] for p in phases.by_phase}
    assert rows[1] == [("enable", "apis (1)")]
    assert ("update", "sql instance pmis-staging-postgres") in rows[2]
    assert ("create", "service account pmis-staging-migrate@pmis-staging.iam.gserviceaccount.com") in rows[2]
    assert ("create", "sql user pmis_app") in rows[3]
    assert ("create", "secret pmis-staging-db-password") in rows[3]
    assert ("add version", "secret pmis-staging-database-url") in rows[3]  # new password → new URL
    assert ("bind", "project pmis-staging") in rows[4]
    assert ctx.gcloud.invocations == 0
