"""The GCP flow end to end: the real gcloud CLI against the embedded fake, the real api and its
migration as local processes on a throwaway PostgreSQL.

The scenarios share one fake and one database (module scope) and run in file order, because every
gcloud call costs about a second: dry-run on an empty project → full provision + deploy → a second
run that makes no mutating request → a failing migration job → a revision that never becomes Ready
→ a good release → rollback → status. A canary secret is checked against every output, argv and
request on the way.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmis_deploy.config import LoadedSettings, load_settings
from pmis_deploy.errors import ReleaseFailed
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import status
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.deploy import deploy
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.rollback import rollback
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.gcp.state import GcsStateBackend
from pmis_deploy.release import ReleaseStatus
from pmis_deploy.shell import Runner

# Each gcloud call costs ~1 s (4-6 s on a loaded 2-core machine); a full release makes ~60 of them.
pytestmark = [pytest.mark.integration, pytest.mark.gcloud, pytest.mark.timeout(900)]

CANARY = "canary-azure-key-7d1f0c5e9b"
SKIP_GATE = "integration test: the checklist gate is tested in tests/unit/test_gate*"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gcp_env(gcp_module_env: dict[str, str]) -> dict[str, str]:
    return gcp_module_env


@pytest.fixture(scope="module")
def database(pg_cluster: Any) -> Iterator[str]:
    pg_cluster.ensure_running()
    pg_cluster.create_database("gcp_flow")
    yield pg_cluster.url("gcp_flow")
    pg_cluster.ensure_running()
    pg_cluster.drop_database("gcp_flow")


@pytest.fixture(scope="module")
def loaded(database: str) -> LoadedSettings:
    environ = {
        "PMIS_LOCAL__DATABASE_URL": database,
        "PMIS_LOCAL__API_PORT": str(free_port()),
        "PMIS_DEPLOY__HEALTH_TIMEOUT_SECONDS": "30",
        "AZURE_OPENAI_API_KEY": CANARY,
    }
    return load_settings("local", environ=environ, root=Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def ctx(loaded: LoadedSettings, gcp_env: dict[str, str]) -> Ctx:
    s = loaded.settings
    gcloud = Gcloud(s.gcp.project, s.gcp.region, runner=Runner(echo=True), env=gcp_env, embedded=True)
    return Ctx(gcloud, s, GcpNames.of(s))


def serving(ctx: Ctx, component: str) -> list[tuple[str, int]]:
    from pmis_deploy.gcp.run import serving as live

    return live(ctx.gcloud.run(g.run_service_describe(ctx.names.service(component))))


def test_dry_run_on_an_empty_project_plans_everything_and_changes_nothing(
    ctx: Ctx, loaded: LoadedSettings, gcp_fake: Any
) -> None:
    before = len(gcp_fake.requests())
    planning = Ctx(
        Gcloud(
            ctx.names.project,
            ctx.names.region,
            dry_run=True,
            runner=Runner(echo=True),
            env=ctx.gcloud.env,
            embedded=True,
        ),
        ctx.settings,
        ctx.names,
    )
    outcome = deploy(loaded, tag="rel1", dry_run=True, ctx=planning)
    assert outcome.exit_code == 2
    lines = "\n".join(outcome.plan.lines())
    for expected in (
        "create sql instance pmis-local-postgres",
        "create redis instance",
        "deploy pmis-local-api",
        "scheduler job: create",
    ):
        assert expected in lines
    assert gcp_fake.writes(before) == []
    assert planning.gcloud.mutating_calls() == []


def test_full_deploy_then_a_second_run_changes_nothing(
    ctx: Ctx, loaded: LoadedSettings, gcp_fake: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    outcome = deploy(loaded, tag="rel1", skip_gate=SKIP_GATE, ctx=ctx)
    record = outcome.record
    assert record is not None and record.status is ReleaseStatus.succeeded
    assert set(record.services) == {"api", "web", "worker"}
    assert record.alembic_head
    assert record.gate_skipped and record.gate_skip_reason == SKIP_GATE
    assert all("not pushed" in ref for ref in record.images.values())
    for component in ("api", "web"):
        assert serving(ctx, component) == [(record.services[component], 100)]
    # the worker is always on, the daily job is one-shot and scheduled over HTTP with OAuth
    worker = ctx.gcloud.run(g.run_service_describe(ctx.names.service("worker")))
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert str(annotations.get("run.googleapis.com/cpu-throttling")).lower() == "false"
    assert annotations.get("autoscaling.knative.dev/minScale") == "1"
    sched = ctx.gcloud.run(g.scheduler_jobs_list())[0]
    assert sched["httpTarget"]["oauthToken"]["serviceAccountEmail"] == ctx.names.sa_email("scheduler")
    assert sched["timeZone"] == "Etc/UTC"
    # the lock is released and the record is in GCS
    backend = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)
    assert backend.read_lock() is None
    assert backend.get_release(record.id) is not None

    before = len(gcp_fake.requests())
    again = deploy(loaded, tag="rel1", skip_gate=SKIP_GATE, ctx=ctx)
    assert again.record is None and again.exit_code == 0 and again.summary == "no changes"
    assert gcp_fake.writes(before) == []

    # the canary secret went to Secret Manager only: no output, no argv, no other request
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert not any(CANARY in " ".join(argv) for argv in ctx.gcloud.runner.history)
    others = [r for r in gcp_fake.requests() if "secretmanager" not in str(r.get("path", ""))]
    assert CANARY not in json.dumps(others)
    assert CANARY not in record.model_dump_json()


def test_a_failing_migration_job_changes_no_traffic(ctx: Ctx, loaded: LoadedSettings, gcp_fake: Any) -> None:
    before = {c: serving(ctx, c) for c in ("api", "web")}
    gcp_fake.set_knob("fail_job_executions", {ctx.names.migrate_job: "alembic: relation already exists"})
    try:
        with pytest.raises(ReleaseFailed, match="migration job"):
            deploy(loaded, tag="rel2", skip_gate=SKIP_GATE, ctx=ctx)
    finally:
        gcp_fake.set_knob("fail_job_executions", {})
    assert {c: serving(ctx, c) for c in ("api", "web")} == before
    latest = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket).list_releases(limit=1)[0]
    assert latest.status is ReleaseStatus.failed and latest.tag == "rel2"


def test_a_revision_that_never_gets_ready_keeps_traffic_on_the_old_one(
    ctx: Ctx, loaded: LoadedSettings, gcp_fake: Any
) -> None:
    before = serving(ctx, "api")
    gcp_fake.set_knob("fail_service_revisions", {ctx.names.service("api"): "container failed to listen on PORT=8000"})
    try:
        with pytest.raises(ReleaseFailed, match="failed"):
            deploy(loaded, tag="rel3", skip_gate=SKIP_GATE, ctx=ctx)
    finally:
        gcp_fake.set_knob("fail_service_revisions", {})
    assert serving(ctx, "api") == before
    latest = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket).list_releases(limit=1)[0]
    assert latest.status is ReleaseStatus.failed and latest.tag == "rel3"


def test_good_release_then_rollback_to_the_previous_one(ctx: Ctx, loaded: LoadedSettings) -> None:
    backend = GcsStateBackend(ctx.gcloud, ctx.names.state_bucket)
    first = next(r for r in backend.list_releases() if r.tag == "rel1")
    outcome = deploy(loaded, tag="rel4", skip_gate=SKIP_GATE, ctx=ctx)
    assert outcome.record is not None and outcome.record.status is ReleaseStatus.succeeded
    assert outcome.record.previous_release == first.id
    assert serving(ctx, "api") == [(outcome.record.services["api"], 100)] != [(first.services["api"], 100)]

    record, code, _ = rollback(loaded, ctx=ctx)
    assert code == 0 and record is not None and record.status is ReleaseStatus.rollback
    assert record.rolled_back_to == first.id
    for component in ("api", "web", "worker"):
        assert serving(ctx, component) == [(first.services[component], 100)]

    data = status.collect(ctx)
    assert [r["status"] for r in data["releases"][:2]] == ["rollback", "succeeded"]
    api = next(s for s in data["services"] if s["name"] == ctx.names.service("api"))
    assert api["note"] and "pinned" in api["note"]
    assert data["lock"] is None
