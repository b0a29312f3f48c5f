"""The real gcloud CLI against the fake GCP: service enablement and Cloud Run services/revisions/jobs."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.gcloud]

REGION = "--region=us-central1"
IMAGE = "us-central1-docker.pkg.dev/pmis-local/app/web"


def test_services_enable_and_state(gcloud_cli, gcp_fake):
    gcp_fake.set_knob("require_enabled_apis", True)
    gcloud_cli("services", "enable", "run.googleapis.com", "sqladmin.googleapis.com", fmt=None)
    gcloud_cli("services", "enable", "redis.googleapis.com", fmt=None)
    enabled = gcloud_cli("services", "list", "--enabled").data
    names = {s["config"]["name"] for s in enabled}
    assert names == {"run.googleapis.com", "sqladmin.googleapis.com", "redis.googleapis.com"}

    # An API that is not enabled answers 403 SERVICE_DISABLED and gcloud exits 1.
    denied = gcloud_cli("secrets", "list", check=False)
    assert denied.rc == 1
    assert "SERVICE_DISABLED" in denied.stderr or "has not been used" in denied.stderr
    paths = [(r["method"], r["path"]) for r in gcp_fake.requests("serviceusage")]
    assert ("POST", "/serviceusage/v1/projects/pmis-local/services:batchEnable") in paths
    assert ("POST", "/serviceusage/v1/projects/pmis-local/services/redis.googleapis.com:enable") in paths


def test_run_deploy_candidate_promote_and_failures(gcloud_cli, gcp_fake):
    first = gcloud_cli(
        "run",
        "deploy",
        "web",
        f"--image={IMAGE}:v1",
        REGION,
        "--port=8000",
        "--set-secrets=DB_PASSWORD=db-password:latest",
        "--set-cloudsql-instances=pmis-local:us-central1:db1",
        "--allow-unauthenticated",
    )
    assert first.rc == 0
    service = gcloud_cli("run", "services", "describe", "web", REGION).data
    rev1 = service["status"]["latestReadyRevisionName"]
    assert service["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    assert service["status"]["traffic"] == [{"latestRevision": True, "revisionName": rev1, "percent": 100}]
    env = service["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-password", "key": "latest"}}} in env
    assert gcp_fake.table("iam.policies")["projects/pmis-local/locations/us-central1/services/web"]["bindings"] == [
        {"role": "roles/run.invoker", "members": ["allUsers"]}
    ]

    # A candidate with no traffic, reachable through its tag.
    gcloud_cli("run", "deploy", "web", f"--image={IMAGE}:v2", REGION, "--no-traffic", "--tag=cand")
    service = gcloud_cli("run", "services", "describe", "web", REGION).data
    rev2 = service["status"]["latestCreatedRevisionName"]
    assert rev2 != rev1
    traffic = {t["revisionName"]: t for t in service["status"]["traffic"]}
    assert traffic[rev1]["percent"] == 100
    assert "percent" not in traffic[rev2]
    assert traffic[rev2]["url"].startswith("https://cand---web-")

    # Promote it, then list revisions (the label selector has spaces around "=").
    gcloud_cli("run", "services", "update-traffic", "web", REGION, f"--to-revisions={rev2}=100")
    traffic = gcp_fake.table("run.services")["pmis-local/us-central1/web"]["service"]["spec"]["traffic"]
    assert sum(t.get("percent", 0) for t in traffic if t.get("revisionName") == rev2) == 100
    revisions = gcloud_cli("run", "revisions", "list", "--service=web", REGION).data
    assert [r["metadata"]["name"] for r in revisions] == [rev2, rev1]
    selectors = [r["query"].get("labelSelector") for r in gcp_fake.requests("run") if r["path"].endswith("/revisions")]
    assert selectors == ["serving.knative.dev/service = web"]

    # A revision that does not start: deploy fails with the container message, traffic stays put.
    gcp_fake.set_knob("fail_service_revisions", {"web": ""})
    failed = gcloud_cli("run", "deploy", "web", f"--image={IMAGE}:v3", REGION, check=False)
    assert failed.rc == 1
    assert "Container failed to start" in failed.stderr
    service = gcloud_cli("run", "services", "describe", "web", REGION).data
    assert service["status"]["latestReadyRevisionName"] == rev2
    assert service["status"]["latestCreatedRevisionName"] not in (rev1, rev2)
    assert sum(t.get("percent", 0) for t in service["status"]["traffic"] if t["revisionName"] == rev2) == 100


def test_run_jobs_create_deploy_execute_and_fail(gcloud_cli, gcp_fake):
    gcloud_cli(
        "run",
        "jobs",
        "create",
        "migrate",
        f"--image={IMAGE}:v1",
        REGION,
        "--command=alembic",
        "--args=upgrade,head",
        "--set-secrets=DB_PASSWORD=db-password:latest",
        "--set-cloudsql-instances=pmis-local:us-central1:db1",
    )
    gcloud_cli("run", "jobs", "deploy", "migrate", f"--image={IMAGE}:v2", REGION)
    job = gcloud_cli("run", "jobs", "describe", "migrate", REGION).data
    assert job["metadata"]["generation"] == 2
    container = job["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["command"], container["args"]) == (
        f"{IMAGE}:v2",
        ["alembic"],
        ["upgrade", "head"],
    )

    ok = gcloud_cli("run", "jobs", "execute", "migrate", REGION, "--wait")
    assert ok.rc == 0
    gcp_fake.set_knob("fail_job_executions", {"migrate": "alembic: relation already exists"})
    failed = gcloud_cli("run", "jobs", "execute", "migrate", REGION, "--wait", check=False)
    assert failed.rc == 1
    assert "The execution failed" in failed.stderr

    executions = gcloud_cli("run", "jobs", "executions", "list", "--job=migrate", REGION).data
    completed = [next(c for c in e["status"]["conditions"] if c["type"] == "Completed") for e in executions]
    assert [c["status"] for c in completed] == ["False", "True"]
    assert completed[0]["message"] == "alembic: relation already exists"
    job = gcloud_cli("run", "jobs", "describe", "migrate", REGION).data
    assert job["status"]["latestCreatedExecution"]["completionStatus"] == "EXECUTION_FAILED"
