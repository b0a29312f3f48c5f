"""`deploy.aws` end to end in `local`: the embedded AWS emulator over HTTP, real PostgreSQL, the real api.

One environment is provisioned and deployed (release A) once for the module; the tests then run
scenarios against it in order, each leaving every service on release A again (that is what they
assert). "No changes" is defined as: no mutating AWS call outside the state bucket — the S3 lock
write and the release record are the only writes a no-op re-deploy makes.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest

from pmis_deploy.aws import naming, rollout, taskdefs
from pmis_deploy.aws.deploy import DeployRequest, deploy
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.aws.state import S3StateBackend
from pmis_deploy.config import LoadedSettings, load_settings
from pmis_deploy.emulators.aws import reset, set_knobs
from pmis_deploy.emulators.postgres import PostgresCluster
from pmis_deploy.errors import ConfirmationRefused, LockHeldError, ReleaseFailed
from pmis_deploy.pipeline import render_summary
from pmis_deploy.release import LockInfo, ReleaseRecord, ReleaseStatus
from tests.fixtures.postgres import free_port

pytestmark = pytest.mark.integration

TAG_A = "aaaaaaaaaaaa"
TAG_B = "bbbbbbbbbbbb"
CANARY = f"canary-{uuid.uuid4().hex}"


@dataclass
class Env:
    url: str
    loaded: LoadedSettings
    first: ReleaseRecord
    plan: ReleaseRecord
    plan_code: int
    plan_mutations: dict[str, int]
    output: str  # everything the first deploy printed

    def aws(self) -> AwsClients:
        return AwsClients(region="us-east-1", endpoint_url=self.url)

    def backend(self) -> S3StateBackend:
        return S3StateBackend.for_settings(self.aws(), self.loaded.settings)

    def services(self) -> dict[str, str]:
        names = [naming.ecs_service(self.loaded.settings, w) for w in ("worker", "beat", "api", "web")]
        ecs = self.aws().client("ecs")
        found = ecs.describe_services(cluster=naming.cluster(self.loaded.settings), services=names)["services"]
        return {s["serviceName"]: rollout.short(s["taskDefinition"]) for s in found}


def settings_for(url: str, database_url: str, env: str = "local") -> LoadedSettings:
    environ = {
        "PMIS_AWS__ENDPOINT_URL": url,
        "PMIS_LOCAL__DATABASE_URL": database_url,
        "PMIS_LOCAL__API_PORT": str(free_port()),
        "AZURE_OPENAI_API_KEY": CANARY,
    }
    return load_settings(env, environ=environ)


def run(env: Env, tag: str, **kw: Any) -> tuple[ReleaseRecord, int, AwsClients]:
    aws = AwsClients.for_settings(env.loaded.settings, dry_run=kw.get("dry_run", False))
    record, code = deploy(env.loaded, DeployRequest(tag=tag, skip_checks="integration test", **kw), aws=aws)
    return record, code, aws


@pytest.fixture(scope="module")
def env(aws_server: str, pg_cluster: PostgresCluster) -> Iterator[Env]:
    reset(aws_server)
    database = f"deploy_{uuid.uuid4().hex[:8]}"
    pg_cluster.create_database(database)
    loaded = settings_for(aws_server, pg_cluster.url(database))
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        dry = AwsClients.for_settings(loaded.settings, dry_run=True)
        plan, code = deploy(loaded, DeployRequest(tag=TAG_A, dry_run=True, skip_checks="test"), aws=dry)
        first, _ = deploy(loaded, DeployRequest(tag=TAG_A, skip_checks="integration test"))
        print(render_summary(first))
    yield Env(aws_server, loaded, first, plan, code, dry.mutating_calls(), out.getvalue())
    reset(aws_server)
    pg_cluster.drop_database(database)


def test_dry_run_plans_everything_and_mutates_nothing(env: Env) -> None:
    assert env.plan_code == 2
    assert env.plan_mutations == {}  # AwsClients(dry_run=True) would have raised on any mutating call
    assert any("infrastructure: create" in c for c in env.plan.changes)
    assert any("services: create" in c for c in env.plan.changes)


def test_full_provision_and_deploy(env: Env) -> None:
    first = env.first
    assert first.status is ReleaseStatus.succeeded and first.gate_skipped
    assert set(first.services) == {"worker", "beat", "api", "web"}
    assert first.images["api"].endswith(f"pmis-local/api:{TAG_A} (unbuilt)")  # local: never claims a push
    assert first.alembic_head  # the real migration ran on the local PostgreSQL
    assert set(first.secret_versions) >= {"database-url", "redis-url", "celery-broker"}
    assert any(url.endswith("/health") for url in first.urls.values())
    assert set(env.services().values()) == {f"pmis-local-{w}:1" for w in ("worker", "beat", "api", "web")}
    backend = env.backend()
    assert backend.read_lock() is None
    assert backend.get_release(first.id).status is ReleaseStatus.succeeded  # type: ignore[union-attr]
    assert "images are not pushed in local" in env.output
    assert "health check passed" in env.output


def test_only_the_migration_task_gets_the_database_master_login(env: Env) -> None:
    """The registered definitions: migrate reads the RDS-managed secret by JSON key, nothing else does."""
    from sqlalchemy.engine import make_url

    aws = env.aws()
    master = aws.client("rds").describe_db_instances(DBInstanceIdentifier="pmis-local-postgres")["DBInstances"][0]
    master_arn = master["MasterUserSecret"]["SecretArn"]
    ecs = aws.client("ecs")
    secrets_of = {}
    for workload in ("migrate", "api", "worker", "beat", "web"):
        definition = ecs.describe_task_definition(taskDefinition=f"pmis-local-{workload}")["taskDefinition"]
        (container,) = definition["containerDefinitions"]
        secrets_of[workload] = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
        if workload == "migrate":
            assert container["command"] == ["python", "-m", "app.dbbootstrap", "alembic", "upgrade", "head"]
    assert secrets_of["migrate"]["DATABASE_ADMIN_USERNAME"] == f"{master_arn}:username::"
    assert secrets_of["migrate"]["DATABASE_ADMIN_PASSWORD"] == f"{master_arn}:password::"
    # every reference to an app secret pins its current version (a new version re-registers its readers)
    sm = aws.client("secretsmanager")
    for workload, refs in secrets_of.items():
        for name, ref in refs.items():
            if name.startswith("DATABASE_ADMIN_"):
                continue
            secret = f"pmis-local/{taskdefs.SECRET_ENV[name]}"
            assert ref == f"{sm.describe_secret(SecretId=secret)['ARN']}:::{current_version(aws, secret)}", workload
    for workload in ("api", "worker", "beat", "web"):
        assert not any(master_arn in v for v in secrets_of[workload].values()), workload
    database_url = aws.client("secretsmanager").get_secret_value(SecretId="pmis-local/database-url")["SecretString"]
    app = make_url(database_url)
    assert app.username == "pmis_app"
    assert app.password and app.password not in env.output


def test_no_op_redeploy_makes_no_mutating_call_outside_the_state_bucket(env: Env) -> None:
    record, code, aws = run(env, TAG_A)
    assert code == 0 and record.status is ReleaseStatus.succeeded
    assert record.changes == [] and "none (no changes)" in render_summary(record)
    assert {k: v for k, v in aws.mutating_calls().items() if not k.startswith("s3:")} == {}
    assert set(aws.mutating_calls()) <= {"s3:PutObject", "s3:DeleteObject"}
    assert "ecs:RegisterTaskDefinition" not in aws.calls
    assert "ecs:UpdateService" not in aws.calls and "ecs:RunTask" not in aws.calls
    plan, code, dry = run(env, TAG_A, dry_run=True)
    assert code == 0 and plan.changes == [] and dry.mutating_calls() == {}


def test_failed_migration_leaves_services_untouched(env: Env) -> None:
    before = env.services()
    set_knobs(env.url, exit_code=3)
    try:
        with pytest.raises(ReleaseFailed, match="exited 3"):
            run(env, TAG_B)
    finally:
        set_knobs(env.url, exit_code=0)
    assert env.services() == before
    latest = env.backend().list_releases(1)[0]
    assert latest.tag == TAG_B and latest.status is ReleaseStatus.failed
    assert "roll out services" not in latest.timings


def test_circuit_breaker_failure_rolls_every_service_back(env: Env) -> None:
    """web (rolled out last) fails its deployment: worker, beat and api, already updated, go back too."""
    before = env.services()
    set_knobs(env.url, fail_images=[f"pmis-local/web:{TAG_B}"])
    try:
        with pytest.raises(ReleaseFailed, match="rolled_back") as err:
            run(env, TAG_B)
    finally:
        set_knobs(env.url, fail_images=[])
    assert "pmis-local-web" in err.value.message
    assert env.services() == before
    latest = env.backend().list_releases(1)[0]
    assert latest.status is ReleaseStatus.rolled_back
    assert latest.rolled_back_to is not None and latest.rolled_back_to >= env.first.id


def test_failed_health_check_rolls_every_service_back(env: Env) -> None:
    """Every deployment COMPLETED, but /health never answers 200: the release is rolled back."""
    before = env.services()
    broken = load_settings(
        "local",
        environ={
            "PMIS_AWS__ENDPOINT_URL": env.url,
            "PMIS_LOCAL__DATABASE_URL": env.loaded.settings.local.database_url.get_secret_value(),
            "PMIS_LOCAL__API_PORT": str(free_port()),
            "PMIS_DEPLOY__HEALTH_PATH": "/no-such-endpoint",
            "PMIS_DEPLOY__HEALTH_TIMEOUT_SECONDS": "5",
        },
    )
    with pytest.raises(ReleaseFailed, match=r"rolled_back.*not healthy"):
        deploy(broken, DeployRequest(tag=TAG_B, skip_checks="integration test"))
    assert env.services() == before
    latest = env.backend().list_releases(1)[0]
    assert latest.status is ReleaseStatus.rolled_back and "health check" in latest.timings


def test_lock_contention_refuses_a_second_deployer(env: Env) -> None:
    backend = env.backend()
    assert backend.create_lock(LockInfo(holder="carol@ci-runner-7"))
    try:
        with pytest.raises(LockHeldError, match="carol@ci-runner-7") as err:
            run(env, TAG_B)
        assert "--wait" in (err.value.hint or "")
        assert all(r.tag != TAG_B or r.status is not ReleaseStatus.in_progress for r in backend.list_releases())
    finally:
        env.backend().delete_lock()


def test_a_canary_secret_never_appears_in_output_or_records(env: Env) -> None:
    stored = env.aws().client("secretsmanager").get_secret_value(SecretId="pmis-local/azure-openai-key")["SecretString"]
    assert stored == CANARY  # it really went through the deploy …
    assert CANARY not in env.output  # … and never surfaced
    assert all(CANARY not in r.model_dump_json() for r in env.backend().list_releases())


def test_production_needs_yes(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    loaded = settings_for(env.url, "postgresql+psycopg://x@127.0.0.1:1/x", "production")
    calls_before = len(env.backend().list_releases(100))
    with pytest.raises(ConfirmationRefused, match="without --yes"):
        deploy(loaded, DeployRequest(tag=TAG_A))
    assert len(env.backend().list_releases(100)) == calls_before


def inv(env: Env, *args: str) -> Any:
    """Run an `inv` task in a subprocess against the module's environment."""
    import json
    import os
    import subprocess

    variables = {
        **os.environ,
        "PMIS_AWS__ENDPOINT_URL": env.url,
        "PMIS_LOCAL__DATABASE_URL": env.loaded.settings.local.database_url.get_secret_value(),
        "PMIS_LOCAL__API_PORT": str(env.loaded.settings.local.api_port),
    }
    done = subprocess.run(
        [str(env.loaded.root / ".venv" / "bin" / "inv"), *args],
        cwd=env.loaded.root,
        env=variables,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert CANARY not in done.stdout + done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def test_rollback_restores_the_previous_good_release_by_record(env: Env) -> None:
    """A good release B, then rollback.aws: every service returns to A's task definitions (not revision - 1)."""
    from pmis_deploy.aws.rollback import RollbackRequest, rollback
    from pmis_deploy.errors import NotFound

    a_services = env.services()
    b, _, _ = run(env, TAG_B)
    assert b.status is ReleaseStatus.succeeded and env.services() != a_services

    plan, code = rollback(
        env.loaded, RollbackRequest(dry_run=True), aws=AwsClients.for_settings(env.loaded.settings, dry_run=True)
    )
    assert code == 2 and len(plan.changes) == 4 and env.services() != a_services

    failed = next(r for r in env.backend().list_releases(100) if r.status is ReleaseStatus.failed)
    with pytest.raises(NotFound, match="only a good release"):
        rollback(env.loaded, RollbackRequest(to=failed.id))

    record, code = rollback(env.loaded, RollbackRequest())
    assert code == 0 and record.status is ReleaseStatus.rollback
    assert env.services() == a_services
    assert record.tag == TAG_A and record.rolled_back_to is not None

    status = inv(env, "status.aws", "--json")
    assert {s["rollout"] for s in status["services"]} == {"COMPLETED"}
    assert all(s["running"] == s["desired"] for s in status["services"])
    assert status["current_release"] == record.id and status["lock"] is None
    listed = inv(env, "releases.list", "--json", "--limit", "3")
    assert listed[0]["id"] == record.id and listed[0]["status"] == "rollback"


def current_version(aws: AwsClients, secret: str) -> str:
    stages = aws.client("secretsmanager").describe_secret(SecretId=secret)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


def test_a_new_database_url_version_runs_the_migration_again(env: Env) -> None:
    """A new app password (or endpoint) reaches the role only through the migration task: a deploy of the
    same image re-registers the migrate definition (it pins the version) and runs it, then rolls the
    services that read DATABASE_URL (worker, beat, api) onto the new version; web stays."""
    from sqlalchemy.engine import make_url

    settled, code, _ = run(env, TAG_A)  # after the rollback above: A's definitions registered again
    assert code == 0 and settled.status is ReleaseStatus.succeeded
    before = env.services()
    sm = env.aws().client("secretsmanager")
    url = make_url(sm.get_secret_value(SecretId="pmis-local/database-url")["SecretString"])
    sm.put_secret_value(
        SecretId="pmis-local/database-url",  # pragma: allowlist secret
        SecretString=url.set(password=uuid.uuid4().hex).render_as_string(hide_password=False),
    )
    record, code, _ = run(env, TAG_A)
    assert code == 0 and record.status is ReleaseStatus.succeeded
    assert any(c.startswith("task definition pmis-local-migrate:") for c in record.changes)
    assert any(c.startswith("migration: ECS task") and c.endswith("exited 0") for c in record.changes)
    assert registered(record) == {"migrate", "worker", "beat", "api"}
    assert rolled(before, env.services()) == {"worker", "beat", "api"}
    assert record.secret_versions["database-url"] == current_version(env.aws(), "pmis-local/database-url")
    again, code, aws = run(env, TAG_A)  # and then nothing again
    assert code == 0 and again.changes == [] and "ecs:RunTask" not in aws.calls


def registered(record: ReleaseRecord) -> set[str]:
    """Workloads whose task definition the release registered (from its changes)."""
    prefix = "task definition pmis-local-"
    return {c[len(prefix) :].split(":")[0] for c in record.changes if c.startswith(prefix)}


def rolled(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Services whose task definition differs between two env.services() snapshots."""
    return {name.removeprefix("pmis-local-") for name in before if before[name] != after[name]}


def secret_refs(env: Env, task_definition: str) -> dict[str, str]:
    ecs = env.aws().client("ecs")
    (container,) = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"][
        "containerDefinitions"
    ]
    return {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}


def test_a_new_secret_value_rolls_exactly_its_readers_and_rollback_restores_the_old_version(env: Env) -> None:
    """`inv secrets.set azure-openai-key` (a new version), then deploy.aws of the same commit: the api and
    worker (its readers) get new definitions pinned to the new version and are rolled; beat, web and the
    migration are untouched. rollback.aws puts back definitions pinning the previous version."""
    from dataclasses import replace

    from pmis_deploy.aws import secrets
    from pmis_deploy.aws.rollback import RollbackRequest, rollback

    # as in a real environment, the key lives only in Secrets Manager (the module's settings carry the
    # canary as AZURE_OPENAI_API_KEY, which provision would write back over the new value)
    keyless = load_settings(
        "local",
        environ={
            "PMIS_AWS__ENDPOINT_URL": env.url,
            "PMIS_LOCAL__DATABASE_URL": env.loaded.settings.local.database_url.get_secret_value(),
            "PMIS_LOCAL__API_PORT": str(free_port()),
        },
    )
    assert keyless.settings.secrets.azure_openai_api_key is None
    env = replace(env, loaded=keyless)
    settled, code, _ = run(env, TAG_A)
    assert code == 0 and settled.changes == []
    before = env.services()
    secret = "pmis-local/azure-openai-key"  # pragma: allowlist secret
    old_version = current_version(env.aws(), secret)
    assert settled.secret_versions["azure-openai-key"] == old_version
    change = secrets.set_secret(env.aws(), env.loaded.settings, "azure-openai-key", f"{CANARY}-rotated")
    assert change is not None  # what `inv secrets.set` does: put_secret_value, a new AWSCURRENT version
    new_version = current_version(env.aws(), secret)
    assert new_version != old_version

    plan, code, dry = run(env, TAG_A, dry_run=True)
    assert code == 2 and dry.mutating_calls() == {}
    assert registered(plan) == {"api", "worker"}

    record, code, aws = run(env, TAG_A)
    assert code == 0 and record.status is ReleaseStatus.succeeded
    assert registered(record) == {"api", "worker"}
    assert rolled(before, env.services()) == {"api", "worker"}
    assert "ecs:RunTask" not in aws.calls  # same api image, migrate unchanged: no migration
    assert record.secret_versions["azure-openai-key"] == new_version
    assert record.secret_versions["database-url"] == settled.secret_versions["database-url"]
    for workload in ("api", "worker"):
        refs = secret_refs(env, record.services[workload])
        assert refs["AZURE_OPENAI_API_KEY"].endswith(f":::{new_version}")
    assert record.services["beat"] == settled.services["beat"] and record.services["web"] == settled.services["web"]
    again, code, aws = run(env, TAG_A)  # converged: nothing to register, nothing to roll
    assert code == 0 and again.changes == [] and "ecs:RegisterTaskDefinition" not in aws.calls

    back, code = rollback(env.loaded, RollbackRequest(to=settled.id))
    assert code == 0 and back.status is ReleaseStatus.rollback
    assert env.services() == before
    assert back.secret_versions["azure-openai-key"] == old_version
    for workload in ("api", "worker"):
        refs = secret_refs(env, back.services[workload])
        assert refs["AZURE_OPENAI_API_KEY"].endswith(f":::{old_version}")
    assert CANARY not in render_summary(record) + record.model_dump_json() + back.model_dump_json()
