"""The real gcloud CLI against the fake GCP: Cloud Scheduler and Cloud Monitoring."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.gcloud]

SA = "app-runtime@pmis-local.iam.gserviceaccount.com"


def test_scheduler_and_monitoring(gcloud_cli, gcp_fake, tmp_path):
    job = gcloud_cli(
        "scheduler",
        "jobs",
        "create",
        "http",
        "nightly",
        "--location=us-central1",
        "--schedule=0 3 * * *",
        "--uri=https://api.example.com/tasks/nightly",
        "--http-method=POST",
        f"--oauth-service-account-email={SA}",
        "--time-zone=Europe/Berlin",
    ).data
    assert job["httpTarget"]["oauthToken"] == {"serviceAccountEmail": SA}
    assert (job["schedule"], job["timeZone"], job["state"]) == ("0 3 * * *", "Europe/Berlin", "ENABLED")
    gcloud_cli("scheduler", "jobs", "update", "http", "nightly", "--location=us-central1", "--schedule=0 4 * * *")
    described = gcloud_cli("scheduler", "jobs", "describe", "nightly", "--location=us-central1").data
    assert (described["schedule"], described["httpTarget"]["httpMethod"]) == ("0 4 * * *", "POST")

    dashboard = tmp_path / "dashboard.json"
    dashboard.write_text(json.dumps({"displayName": "PMIS", "gridLayout": {"widgets": [{"title": "CPU", "text": {}}]}}))
    gcloud_cli("monitoring", "dashboards", "create", f"--config-from-file={dashboard}")
    dashboards = gcloud_cli("monitoring", "dashboards", "list").data
    assert [d["displayName"] for d in dashboards] == ["PMIS"]

    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "displayName": "PMIS 5xx",
                "combiner": "OR",
                "conditions": [
                    {
                        "displayName": "5xx",
                        "conditionThreshold": {
                            "filter": 'metric.type="run.googleapis.com/request_count"',
                            "comparison": "COMPARISON_GT",
                            "thresholdValue": 5,
                            "duration": "300s",
                        },
                    }
                ],
            }
        )
    )
    gcloud_cli("alpha", "monitoring", "policies", "create", f"--policy-from-file={policy}")
    policies = gcloud_cli("alpha", "monitoring", "policies", "list").data
    assert [(p["displayName"], p["enabled"]) for p in policies] == [("PMIS 5xx", True)]
    paths = {(r["method"], r["path"]) for r in gcp_fake.requests("monitoring")}
    assert ("POST", "/monitoring/v1/projects/pmis-local/dashboards") in paths
    assert ("POST", "/monitoring/v3/projects/pmis-local/alertPolicies") in paths
