"""Pure builders of every gcloud command the GCP flow runs (argv values, tested by equality).

Each builder returns a `Cmd` (pmis_deploy.gcp.command); the runner adds the common flags. Guide-defect
ids (G1-G20, M7, S3, S4, L4, R2) mark where the runbook's form is corrected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pmis_deploy.gcp.command import Cmd, flags, kv
from pmis_deploy.gcp.settings import EgressMode, GcpSettings

# --- Service Usage (G9: first, all at once) ------------------------------------------------------
REQUIRED_APIS = (
    "run.googleapis.com",
    "sqladmin.googleapis.com",
    "sql-component.googleapis.com",
    "redis.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
)
CONNECTOR_API = "vpcaccess.googleapis.com"
SERVICE_NETWORKING_API = "servicenetworking.googleapis.com"


def services_list_enabled() -> Cmd:
    return Cmd(("services", "list"), options=("--enabled",))


def services_enable(apis: Sequence[str]) -> Cmd:
    return Cmd(("services", "enable"), tuple(apis))


# --- Cloud SQL (G1-G4) ---------------------------------------------------------------------------
def sql_instances_list() -> Cmd:
    return Cmd(("sql", "instances", "list"))


def sql_instance_create(name: str, gcp: GcpSettings, network: str | None) -> Cmd:
    """PostgreSQL 15, PITR (not --enable-bin-log, MySQL-only), the Postgres IAM flag name (G1)."""
    sql = gcp.sql
    return Cmd(
        ("sql", "instances", "create"),
        (name,),
        flags(
            database_version=sql.database_version,
            edition="enterprise",
            tier=sql.tier,
            availability_type=sql.availability_type.value,
            storage_size=f"{sql.storage_gb}GB",
            storage_auto_increase=True,
            backup_start_time=sql.backup_start_time,
            backup_location=gcp.region,
            retained_backups_count=sql.retained_backups,
            enable_point_in_time_recovery=True,
            database_flags="cloudsql.iam_authentication=on",
            deletion_protection=sql.deletion_protection,
            network=network,
            no_assign_ip=network is not None,
        ),
        scope="region",
    )


def sql_instance_patch(name: str, gcp: GcpSettings, network: str | None = None) -> Cmd:
    """Bring backups/PITR/availability back to the configured values (drift repair); with `network`,
    also give the instance a private IP there (its public IP is left for the user to remove)."""
    sql = gcp.sql
    return Cmd(
        ("sql", "instances", "patch"),
        (name,),
        flags(
            network=network,
            availability_type=sql.availability_type.value,
            backup_start_time=sql.backup_start_time,
            retained_backups_count=sql.retained_backups,
            enable_point_in_time_recovery=True,
            deletion_protection=sql.deletion_protection,
            no_deletion_protection=not sql.deletion_protection,
        ),
    )


def sql_databases_list(instance: str) -> Cmd:
    return Cmd(("sql", "databases", "list"), options=flags(instance=instance))


def sql_database_create(database: str, instance: str) -> Cmd:
    return Cmd(("sql", "databases", "create"), (database,), flags(instance=instance))


def sql_users_list(instance: str) -> Cmd:
    return Cmd(("sql", "users", "list"), options=flags(instance=instance))


def sql_user_create(user: str, instance: str, password: str) -> Cmd:
    """G3: a dedicated user with an explicit generated password (passed in a flags file, not argv)."""
    return Cmd(
        ("sql", "users", "create"), (user,), flags(instance=instance), secret_options=(("--password", password),)
    )


def sql_user_set_password(user: str, instance: str, password: str) -> Cmd:
    return Cmd(
        ("sql", "users", "set-password"), (user,), flags(instance=instance), secret_options=(("--password", password),)
    )


# --- Memorystore (G5-G7) -------------------------------------------------------------------------
def redis_instances_list() -> Cmd:
    return Cmd(("redis", "instances", "list"), scope="region")


def redis_instance_create(name: str, gcp: GcpSettings, network: str) -> Cmd:
    redis = gcp.redis
    return Cmd(
        ("redis", "instances", "create"),
        (name,),
        flags(
            tier=redis.tier.value,
            size=redis.size_gb,
            redis_version=redis.version,
            enable_auth=True,
            transit_encryption_mode="server-authentication" if redis.transit_encryption else "disabled",
            network=network,
        ),
        scope="region",
    )


def redis_get_auth_string(name: str) -> Cmd:
    """G7: the AUTH string is not a field of `describe`."""
    return Cmd(("redis", "instances", "get-auth-string"), (name,), scope="region")


# --- Artifact Registry (G10) ---------------------------------------------------------------------
def ar_repositories_list() -> Cmd:
    return Cmd(("artifacts", "repositories", "list"), scope="location")


def ar_repository_create(name: str) -> Cmd:
    return Cmd(
        ("artifacts", "repositories", "create"),
        (name,),
        flags(repository_format="docker", description="PMIS images, tagged by git SHA"),
        scope="location",
    )


# --- IAM (G13, G14) ------------------------------------------------------------------------------
def sa_list() -> Cmd:
    return Cmd(("iam", "service-accounts", "list"))


def sa_create(account_id: str, display_name: str) -> Cmd:
    return Cmd(("iam", "service-accounts", "create"), (account_id,), flags(display_name=display_name))


def project_get_iam_policy(project: str) -> Cmd:
    return Cmd(("projects", "get-iam-policy"), (project,))


def project_add_binding(project: str, member: str, role: str) -> Cmd:
    return Cmd(("projects", "add-iam-policy-binding"), (project,), flags(member=member, role=role, condition="None"))


def project_set_iam_policy(project: str, policy_file: str) -> Cmd:
    """The whole policy with the etag read before: one call, and a concurrent change fails, not lost."""
    return Cmd(("projects", "set-iam-policy"), (project, policy_file))


def secret_set_iam_policy(secret: str, policy_file: str) -> Cmd:
    return Cmd(("secrets", "set-iam-policy"), (secret, policy_file))


def secret_get_iam_policy(secret: str) -> Cmd:
    return Cmd(("secrets", "get-iam-policy"), (secret,))


def secret_add_binding(secret: str, member: str, role: str) -> Cmd:
    return Cmd(("secrets", "add-iam-policy-binding"), (secret,), flags(member=member, role=role))


def job_get_iam_policy(job: str) -> Cmd:
    return Cmd(("run", "jobs", "get-iam-policy"), (job,), scope="region")


def job_add_binding(job: str, member: str, role: str) -> Cmd:
    return Cmd(("run", "jobs", "add-iam-policy-binding"), (job,), flags(member=member, role=role), scope="region")


# --- Secret Manager (S3, S4) ---------------------------------------------------------------------
def secrets_list() -> Cmd:
    return Cmd(("secrets", "list"))


def secret_create(name: str, labels: Mapping[str, str], value: str | None = None) -> Cmd:
    """Create the secret; with `value`, its first version too (one call), the payload through stdin."""
    return Cmd(
        ("secrets", "create"),
        (name,),
        flags(
            replication_policy="automatic",
            labels=kv(labels) if labels else None,
            data_file="-" if value is not None else None,
        ),
        input=value,
    )


def secret_version_add(name: str, value: str) -> Cmd:
    """The payload goes through stdin (`--data-file=-`): never in argv, never on disk."""
    return Cmd(("secrets", "versions", "add"), (name,), flags(data_file="-"), input=value)


def secret_access(name: str, version: str = "latest") -> Cmd:
    return Cmd(("secrets", "versions", "access"), (version,), flags(secret=name))


def secret_delete(name: str) -> Cmd:
    return Cmd(("secrets", "delete"), (name,))


# --- Network egress (G8) -------------------------------------------------------------------------
def connectors_list() -> Cmd:
    return Cmd(("compute", "networks", "vpc-access", "connectors", "list"), scope="region")


def connector_create(name: str, network: str, ip_range: str) -> Cmd:
    return Cmd(
        ("compute", "networks", "vpc-access", "connectors", "create"),
        (name,),
        flags(network=network, range=ip_range),
        scope="region",
    )


# --- Credentials (read verbs; their output is registered as secret by the caller) ---------------
def print_access_token() -> Cmd:
    """The active account's OAuth access token (`{"token": …}`): Artifact Registry's docker login."""
    return Cmd(("auth", "print-access-token"))


def print_identity_token(audience: str | None) -> Cmd:
    """An ID token (`{"id_token": …}`); `--audiences` only for service accounts (identity.py)."""
    return Cmd(("auth", "print-identity-token"), options=flags(audiences=audience))


# --- Private services access (Cloud SQL private IP) ---------------------------------------------
def peering_ranges_list() -> Cmd:
    """Every allocated range of the project (global addresses with purpose VPC_PEERING)."""
    return Cmd(("compute", "addresses", "list"), options=flags(global_=True, filter="purpose=VPC_PEERING"))


def peering_range_create(name: str, network: str, prefix_length: int, address: str | None = None) -> Cmd:
    """The internal range Google's service producers (Cloud SQL) take their addresses from."""
    return Cmd(
        ("compute", "addresses", "create"),
        (name,),
        flags(
            global_=True,
            purpose="VPC_PEERING",
            addresses=address,
            prefix_length=prefix_length,
            network=network,
        ),
    )


def vpc_peerings_list(network: str) -> Cmd:
    return Cmd(("services", "vpc-peerings", "list"), options=flags(network=network))


def vpc_peering_connect(network: str, ranges: Sequence[str]) -> Cmd:
    return Cmd(
        ("services", "vpc-peerings", "connect"),
        options=flags(service=SERVICE_NETWORKING_API, ranges=ranges, network=network),
    )


def vpc_peering_update(network: str, ranges: Sequence[str]) -> Cmd:
    """Set the connection's ranges: pass every existing one too (never `--force`, which drops ranges in use)."""
    return Cmd(
        ("services", "vpc-peerings", "update"),
        options=flags(service=SERVICE_NETWORKING_API, ranges=ranges, network=network),
    )


def egress_flags(gcp: GcpSettings, connector: str | None) -> tuple[str, ...]:
    """Direct VPC egress (network + subnet) or a Serverless VPC Access connector; private ranges only."""
    if gcp.egress.mode is EgressMode.connector:
        return flags(vpc_connector=connector, vpc_egress="private-ranges-only")
    return flags(network=gcp.egress.network, subnet=gcp.egress.subnet, vpc_egress="private-ranges-only")


# --- Monitoring (L4) -----------------------------------------------------------------------------
def dashboards_list() -> Cmd:
    return Cmd(("monitoring", "dashboards", "list"))


def dashboard_create(config_file: str) -> Cmd:
    return Cmd(("monitoring", "dashboards", "create"), options=flags(config_from_file=config_file))


def dashboard_update(name: str, config_file: str) -> Cmd:
    return Cmd(("monitoring", "dashboards", "update"), (name,), flags(config_from_file=config_file))


def policies_list() -> Cmd:
    return Cmd(("alpha", "monitoring", "policies", "list"))


def policy_create(policy_file: str) -> Cmd:
    return Cmd(("alpha", "monitoring", "policies", "create"), options=flags(policy_from_file=policy_file))


def policy_update(name: str, policy_file: str) -> Cmd:
    return Cmd(("alpha", "monitoring", "policies", "update"), (name,), flags(policy_from_file=policy_file))


# --- Cloud Run (G15-G19, M7, S4, R2) -------------------------------------------------------------
def run_services_list() -> Cmd:
    return Cmd(("run", "services", "list"), scope="region")


def run_service_describe(name: str) -> Cmd:
    return Cmd(("run", "services", "describe"), (name,), scope="region")


def run_revisions_list(service: str | None = None) -> Cmd:
    return Cmd(("run", "revisions", "list"), options=flags(service=service), scope="region")


def run_jobs_list() -> Cmd:
    return Cmd(("run", "jobs", "list"), scope="region")


def run_executions_list(job: str | None = None, limit: int | None = None) -> Cmd:
    return Cmd(("run", "jobs", "executions", "list"), options=flags(job=job, limit=limit), scope="region")


def secret_refs(names: Mapping[str, str]) -> str:
    """`--set-secrets` value: ENV=secret:VERSION (`:latest` unless given). Never plain env (S4)."""
    return kv({env: secret if ":" in secret else f"{secret}:latest" for env, secret in names.items()})


def run_deploy(
    name: str,
    *,
    image: str,
    service_account: str,
    port: int,
    cpu: str,
    memory: str,
    min_instances: int,
    max_instances: int,
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    cloudsql: str | None,
    egress: Sequence[str],
    labels: Mapping[str, str],
    public: bool,
    tag: str | None,
    no_traffic: bool,
    always_on: bool = False,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
) -> Cmd:
    """`run deploy` with an explicit port (G15), secrets only by reference (S4), Cloud SQL and VPC egress
    (G8), an explicit invoker policy (G15/G17), and the new revision tagged without traffic."""
    return Cmd(
        ("run", "deploy"),
        (name,),
        (
            *flags(
                image=image,
                service_account=service_account,
                port=port,
                cpu=cpu,
                memory=memory,
                min_instances=min_instances,
                max_instances=max_instances,
                set_env_vars=kv(env) if env else None,
                set_secrets=secret_refs(secrets) if secrets else None,
                clear_secrets=not secrets,
                set_cloudsql_instances=cloudsql,
                clear_cloudsql_instances=cloudsql is None,
                labels=kv(labels) if labels else None,
                command=command,
                args=args,
                no_cpu_throttling=always_on,
                allow_unauthenticated=public,
                no_allow_unauthenticated=not public,
                no_traffic=no_traffic,
                tag=tag,
            ),
            *egress,
        ),
        scope="region",
    )


def run_update_traffic(
    name: str,
    *,
    to_revisions: Mapping[str, int] | None = None,
    to_latest: bool = False,
    remove_tags: Sequence[str] = (),
) -> Cmd:
    """R2: move traffic by revision name (rollback) or to the latest ready revision (release)."""
    if bool(to_revisions) == to_latest:
        raise ValueError("give exactly one of to_revisions and to_latest")
    return Cmd(
        ("run", "services", "update-traffic"),
        (name,),
        flags(
            to_revisions=kv({k: str(v) for k, v in to_revisions.items()}) if to_revisions else None,
            to_latest=to_latest,
            remove_tags=list(remove_tags) or None,
        ),
        scope="region",
    )


def run_job_deploy(
    name: str,
    *,
    image: str,
    service_account: str,
    command: Sequence[str],
    args: Sequence[str],
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    cloudsql: str | None,
    egress: Sequence[str],
    labels: Mapping[str, str],
    task_timeout: int,
    max_retries: int,
    memory: str = "512Mi",
) -> Cmd:
    """M7/G18: a one-shot job (create or update) from the release image; never `celery beat`."""
    return Cmd(
        ("run", "jobs", "deploy"),
        (name,),
        (
            *flags(
                image=image,
                service_account=service_account,
                command=command,
                args=args,
                set_env_vars=kv(env) if env else None,
                set_secrets=secret_refs(secrets) if secrets else None,
                set_cloudsql_instances=cloudsql,
                labels=kv(labels) if labels else None,
                task_timeout=f"{task_timeout}s",
                max_retries=max_retries,
                tasks=1,
                memory=memory,
            ),
            *egress,
        ),
        scope="region",
    )


def run_job_execute(name: str) -> Cmd:
    """M7: run the job and wait for it; a failed execution fails the command."""
    return Cmd(("run", "jobs", "execute"), (name,), flags(wait=True), scope="region")


def run_job_update_image(name: str, image: str) -> Cmd:
    return Cmd(("run", "jobs", "update"), (name,), flags(image=image), scope="region")


# --- Cloud Scheduler (G20) -----------------------------------------------------------------------
def scheduler_jobs_list() -> Cmd:
    return Cmd(("scheduler", "jobs", "list"), scope="location")


def scheduler_job_http(
    name: str, *, exists: bool, schedule: str, time_zone: str, uri: str, service_account_email: str
) -> Cmd:
    """An HTTP target calling the Run Admin API with an OAuth token (not OIDC, not app-engine)."""
    verb = "update" if exists else "create"
    return Cmd(
        ("scheduler", "jobs", verb, "http"),
        (name,),
        flags(
            schedule=schedule,
            time_zone=time_zone,
            http_method="POST",
            uri=uri,
            oauth_service_account_email=service_account_email,
            oauth_token_scope="https://www.googleapis.com/auth/cloud-platform",  # noqa: S106
            attempt_deadline="600s",
        ),
        scope="location",
    )


# --- Cloud Storage (the deploy state bucket: lock + release records) -----------------------------
def bucket_describe(bucket: str) -> Cmd:
    return Cmd(("storage", "buckets", "describe"), (f"gs://{bucket}",))


def bucket_create(bucket: str) -> Cmd:
    return Cmd(
        ("storage", "buckets", "create"),
        (f"gs://{bucket}",),
        flags(uniform_bucket_level_access=True, public_access_prevention=True),
        scope="location",
    )


def object_put(path: str, url: str, *, if_generation_match: int | None = None) -> Cmd:
    """Upload the local file `path`; `if_generation_match=0` creates only if absent (the lock).

    A file, not stdin: gcloud streams stdin as a resumable upload, a small file as one request.
    """
    return Cmd(
        ("storage", "cp"),
        (path, url),
        flags(if_generation_match=if_generation_match, content_type="application/json"),
    )


def object_cat(url: str) -> Cmd:
    return Cmd(("storage", "cat"), (url,))


def objects_list(url: str) -> Cmd:
    return Cmd(("storage", "objects", "list"), (url,))


def object_describe(url: str) -> Cmd:
    return Cmd(("storage", "objects", "describe"), (url,))


def object_delete(url: str, *, if_generation_match: int | None = None) -> Cmd:
    return Cmd(("storage", "rm"), (url,), flags(if_generation_match=if_generation_match))
