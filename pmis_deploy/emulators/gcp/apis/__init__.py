"""One module per fake GCP API; ROUTERS maps the endpoint-override prefix (`/sql/`, `/run/` …) to its router."""

from __future__ import annotations

from pmis_deploy.emulators.gcp.apis import run, secretmanager, serviceusage, storage
from pmis_deploy.emulators.gcp.core import Router

ROUTERS: dict[str, Router] = {
    "run": run.router,
    "secretmanager": secretmanager.router,
    "serviceusage": serviceusage.router,
    "storage": storage.router,
}
