"""One module per fake GCP API; ROUTERS maps the endpoint-override prefix (`/sql/`, `/run/` …) to its router."""

from __future__ import annotations

from pmis_deploy.emulators.gcp.apis import (
    artifactregistry,
    cloudresourcemanager,
    cloudscheduler,
    iam,
    redis,
    run,
    secretmanager,
    serviceusage,
    sql,
    storage,
)
from pmis_deploy.emulators.gcp.core import Router

ROUTERS: dict[str, Router] = {
    "artifactregistry": artifactregistry.router,
    "cloudresourcemanager": cloudresourcemanager.router,
    "cloudscheduler": cloudscheduler.router,
    "iam": iam.router,
    "redis": redis.router,
    "run": run.router,
    "secretmanager": secretmanager.router,
    "serviceusage": serviceusage.router,
    "sql": sql.router,
    "storage": storage.router,
}
