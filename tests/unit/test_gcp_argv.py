"""The gcloud argv builders, by equality (what the guide gets wrong is spelled out right here)."""

from __future__ import annotations

import pytest

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd, flags
from pmis_deploy.gcp.settings import GcpSettings

P, R = "pmis-staging", "europe-west1"


def full(cmd: Cmd) -> list[str]:
    return cmd.argv(P, R)


def test_common_flags_added_once_and_scope_decides_region_or_location() -> None:
    assert full(g.sql_instances_list()) == [
        "gcloud",
        "sql",
        "instances",
        "list",
        f"--project={P}",
        "--format=json",
        "--quiet",
    ]
    assert full(g.redis_get_auth_string("r")) == [
        "gcloud",
        "redis",
        "instances",
        "get-auth-string",
        "r",
        f"--region={R}",
        f"--project={P}",
        "--format=json",
        "--quiet",
    ]
    assert full(g.ar_repositories_list())[4] == f"--location={R}"


def test_flags_helper() -> None:
    assert flags(a_b="x", c=True, d=False, e=None, f=["1", "2"], n=3) == ("--a-b=x", "--c", "--f=1,2", "--n=3")


def test_sql_instance_create_is_postgres_with_pitr_and_no_mysql_flags() -> None:
    gcp = GcpSettings.model_validate({"project": P, "region": R, "sql": {"availability_type": "REGIONAL"}})
    cmd = g.sql_instance_create("pmis-staging-postgres", gcp, network=None)
    assert cmd.path == ("sql", "instances", "create")
    assert cmd.args == ("pmis-staging-postgres",)
    assert cmd.options == (
        "--database-version=POSTGRES_15",
        "--edition=enterprise",
        "--tier=db-custom-1-3840",
        "--availability-type=REGIONAL",
        "--storage-size=10GB",
        "--storage-auto-increase",
        "--backup-start-time=03:00",
        f"--backup-location={R}",
        "--retained-backups-count=30",
        "--enable-point-in-time-recovery",
        "--database-flags=cloudsql.iam_authentication=on",
    )
    assert cmd.scope == "region"
    assert not cmd.read_only


def test_sql_instance_private_ip() -> None:
    gcp = GcpSettings.model_validate({"sql": {"private_ip": True, "deletion_protection": True}})
    options = g.sql_instance_create("db", gcp, network="projects/p/global/networks/default").options
    assert options[-3:] == ("--deletion-protection", "--network=projects/p/global/networks/default", "--no-assign-ip")


def test_sql_user_password_has_a_value_and_stays_out_of_argv() -> None:
    cmd = g.sql_user_create("pmis_app", "db", "abc123")
    assert cmd.options == ("--instance=db",)
    assert cmd.secret_options == (("--password", "abc123"),)
    assert "abc123" not in " ".join(full(cmd)) and "abc123" not in repr(cmd)
    assert g.sql_user_set_password("pmis_app", "db", "x" * 8).path == ("sql", "users", "set-password")


def test_redis_create() -> None:
    gcp = GcpSettings.model_validate({"redis": {"tier": "standard", "size_gb": 2}})
    assert full(g.redis_instance_create("pmis-x-redis", gcp, "default")) == [
        "gcloud",
        "redis",
        "instances",
        "create",
        "pmis-x-redis",
        "--tier=standard",
        "--size=2",
        "--redis-version=redis_7_0",
        "--enable-auth",
        "--transit-encryption-mode=server-authentication",
        "--network=default",
        f"--region={R}",
        f"--project={P}",
        "--format=json",
        "--quiet",
    ]


def test_secret_payload_goes_through_stdin_never_argv() -> None:
    cmd = g.secret_version_add("pmis-x-redis-url", "rediss://:canary@h:6378/0")
    assert cmd.options == ("--data-file=-",)
    assert cmd.input == "rediss://:canary@h:6378/0"
    assert "canary" not in " ".join(full(cmd))
    assert g.secret_access("s").argv(P, R)[:6] == ["gcloud", "secrets", "versions", "access", "latest", "--secret=s"]


def test_iam_bindings_never_prompt_for_a_condition() -> None:
    assert g.project_add_binding(P, "serviceAccount:a@b", "roles/cloudsql.client").options == (
        "--member=serviceAccount:a@b",
        "--role=roles/cloudsql.client",
        "--condition=None",
    )


def test_run_deploy_api() -> None:
    cmd = g.run_deploy(
        "pmis-x-api",
        image="img@sha256:1",
        service_account="api@x",
        port=8000,
        cpu="1",
        memory="1Gi",
        min_instances=0,
        max_instances=10,
        env={"LOG_LEVEL": "info", "ENVIRONMENT": "staging"},
        secrets={"DATABASE_URL": "pmis-x-database-url", "REDIS_URL": "pmis-x-redis-url"},
        cloudsql="p:r:db",
        egress=g.egress_flags(GcpSettings(), None),
        labels={"pmis-spec": "abc"},
        public=True,
        tag="r-1234567",
        no_traffic=True,
    )
    assert cmd.options == (
        "--image=img@sha256:1",
        "--service-account=api@x",
        "--port=8000",
        "--cpu=1",
        "--memory=1Gi",
        "--min-instances=0",
        "--max-instances=10",
        "--set-env-vars=ENVIRONMENT=staging,LOG_LEVEL=info",
        "--set-secrets=DATABASE_URL=pmis-x-database-url:latest,REDIS_URL=pmis-x-redis-url:latest",
        "--set-cloudsql-instances=p:r:db",
        "--labels=pmis-spec=abc",
        "--allow-unauthenticated",
        "--no-traffic",
        "--tag=r-1234567",
        "--network=default",
        "--subnet=default",
        "--vpc-egress=private-ranges-only",
    )


def test_run_deploy_worker_always_on_private_without_secrets_flag_clash() -> None:
    cmd = g.run_deploy(
        "w",
        image="i",
        service_account="s",
        port=8080,
        cpu="1",
        memory="1Gi",
        min_instances=1,
        max_instances=1,
        env={},
        secrets={},
        cloudsql=None,
        egress=(),
        labels={},
        public=False,
        tag=None,
        no_traffic=False,
        always_on=True,
    )
    assert cmd.options == (
        "--image=i",
        "--service-account=s",
        "--port=8080",
        "--cpu=1",
        "--memory=1Gi",
        "--min-instances=1",
        "--max-instances=1",
        "--clear-secrets",
        "--clear-cloudsql-instances",
        "--no-cpu-throttling",
        "--no-allow-unauthenticated",
    )


def test_connector_egress() -> None:
    gcp = GcpSettings.model_validate({"egress": {"mode": "connector"}})
    assert g.egress_flags(gcp, "pmis-x-connector") == (
        "--vpc-connector=pmis-x-connector",
        "--vpc-egress=private-ranges-only",
    )


def test_update_traffic() -> None:
    assert g.run_update_traffic("s", to_revisions={"s-00001-abc": 100}).options == ("--to-revisions=s-00001-abc=100",)
    assert g.run_update_traffic("s", to_latest=True, remove_tags=["r-old"]).options == (
        "--to-latest",
        "--remove-tags=r-old",
    )
    with pytest.raises(ValueError):
        g.run_update_traffic("s")


def test_overdue_job_is_one_shot_not_celery_beat() -> None:
    cmd = g.run_job_deploy(
        "pmis-x-check-overdue-tasks",
        image="w",
        service_account="sa",
        command=["python"],
        args=["-m", "worker.jobs.check_overdue_tasks"],
        env={},
        secrets={"DATABASE_URL": "d"},
        cloudsql="c",
        egress=(),
        labels={"pmis-spec": "h"},
        task_timeout=900,
        max_retries=1,
    )
    assert cmd.options == (
        "--image=w",
        "--service-account=sa",
        "--command=python",
        "--args=-m,worker.jobs.check_overdue_tasks",
        "--set-secrets=DATABASE_URL=d:latest",
        "--set-cloudsql-instances=c",
        "--labels=pmis-spec=h",
        "--task-timeout=900s",
        "--max-retries=1",
        "--tasks=1",
        "--memory=512Mi",
    )
    assert g.run_job_execute("m").options == ("--wait",)


def test_scheduler_http_job_with_oauth_and_time_zone() -> None:
    cmd = g.scheduler_job_http(
        "j",
        exists=False,
        schedule="0 0 * * *",
        time_zone="Etc/UTC",
        uri="https://run.googleapis.com/v2/x:run",
        service_account_email="s@p.iam.gserviceaccount.com",
    )
    assert full(cmd) == [
        "gcloud",
        "scheduler",
        "jobs",
        "create",
        "http",
        "j",
        "--schedule=0 0 * * *",
        "--time-zone=Etc/UTC",
        "--http-method=POST",
        "--uri=https://run.googleapis.com/v2/x:run",
        "--oauth-service-account-email=s@p.iam.gserviceaccount.com",
        "--oauth-token-scope=https://www.googleapis.com/auth/cloud-platform",
        "--attempt-deadline=600s",
        f"--location={R}",
        f"--project={P}",
        "--format=json",
        "--quiet",
    ]
    assert g.scheduler_job_http(
        "j", exists=True, schedule="s", time_zone="t", uri="u", service_account_email="e"
    ).path == ("scheduler", "jobs", "update", "http")


def test_dashboard_from_file_and_services_enable() -> None:
    assert g.dashboard_create("/tmp/d.json").options == ("--config-from-file=/tmp/d.json",)
    assert g.dashboard_update("projects/p/dashboards/1", "f").args == ("projects/p/dashboards/1",)
    assert g.services_enable(["run.googleapis.com", "sqladmin.googleapis.com"]).args == (
        "run.googleapis.com",
        "sqladmin.googleapis.com",
    )


@pytest.mark.parametrize(
    ("cmd", "read_only"),
    [
        (g.sql_instances_list(), True),
        (g.project_get_iam_policy(P), True),
        (g.redis_get_auth_string("r"), True),
        (g.secret_access("s"), True),
        (g.run_revisions_list("s"), True),
        (g.services_enable(["a"]), False),
        (g.secret_version_add("s", "v"), False),
        (g.run_update_traffic("s", to_latest=True), False),
        (g.project_add_binding(P, "m", "r"), False),
        (
            g.scheduler_job_http("j", exists=False, schedule="s", time_zone="t", uri="u", service_account_email="e"),
            False,
        ),
    ],
)
def test_read_only_by_verb(cmd: Cmd, read_only: bool) -> None:
    assert cmd.read_only is read_only


def test_credential_commands() -> None:
    assert g.print_access_token().argv("p", "r") == [
        "gcloud",
        "auth",
        "print-access-token",
        "--project=p",
        "--format=json",
        "--quiet",
    ]
    assert g.print_identity_token("https://api.run.app").argv("p", "r") == [
        "gcloud", "auth", "print-identity-token", "--audiences=https://api.run.app",
        "--project=p", "--format=json", "--quiet",
    ]  # fmt: skip
    assert g.print_identity_token(None).options == ()
    assert g.print_access_token().read_only and g.print_identity_token(None).read_only  # allowed in dry-run
