"""The embedded local GCP: a stateful fake of the GCP REST APIs that the real `gcloud` CLI is pointed at.

One HTTP server is both gcloud's HTTP proxy and every API endpoint (see reference/gcloud-fake-recipe.md):
gcloud_env() sets CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>=http://127.0.0.1:<port>/<api>/ for each API
served, http://run.fake/run/ for Cloud Run (gcloud prefixes the region to that host), and
CLOUDSDK_PROXY_* to the fake, so every request - absolute URL on the request line - reaches it.

APIs (one module each under apis/): serviceusage, sql (sqladmin v1beta4), redis, artifactregistry,
secretmanager, iam, cloudresourcemanager, run (Knative services/revisions, jobs/executions, IAM),
cloudscheduler, monitoring (v1 dashboards, v3 alertPolicies), storage (JSON API objects with generation
preconditions), vpcaccess, compute (networks/subnetworks).

Public API
----------
    running_fake(port=0) -> FakeGcp          in-process server for tests (context manager)
      .url .port .requests(api=None) .set_knob(name, value) .reset() .env(config_dir) .table(name)
    ensure_running(settings) -> url          detached server of the `local` environment (reused if alive)
    stop(settings) -> bool, status(settings) -> dict
    set_knobs(url, **knobs) -> dict, reset(url), requests(url, api=None) -> list   (HTTP, any running fake)
    gcloud_env(port, config_dir, project=...) -> dict[str, str]   the exact env the gcloud runner sets

Control endpoints (same server, origin-form): GET /_fake/health, GET|DELETE /_fake/requests (bodies with
passwords and secret payloads redacted), GET|POST /_fake/knobs, POST /_fake/reset, GET /_fake/state.

Knobs (state.Knobs): fail_job_executions {job: message}, fail_service_revisions {service: message},
disabled_apis [service…] (403 SERVICE_DISABLED until `gcloud services enable`), require_enabled_apis,
op_done_at_create (True), op_polls (0), run_polls (0).
"""

from __future__ import annotations

from pmis_deploy.emulators.gcp.core import DEFAULT_PROJECT
from pmis_deploy.emulators.gcp.env import OVERRIDDEN_APIS, RUN_OVERRIDE, gcloud_env
from pmis_deploy.emulators.gcp.lifecycle import ensure_running, requests, reset, set_knobs, status, stop
from pmis_deploy.emulators.gcp.server import FakeGcp, running_fake
from pmis_deploy.emulators.gcp.state import Knobs

__all__ = [
    "DEFAULT_PROJECT",
    "OVERRIDDEN_APIS",
    "RUN_OVERRIDE",
    "FakeGcp",
    "Knobs",
    "ensure_running",
    "gcloud_env",
    "requests",
    "reset",
    "running_fake",
    "set_knobs",
    "status",
    "stop",
]
