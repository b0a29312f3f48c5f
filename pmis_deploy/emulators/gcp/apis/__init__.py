"""One module per fake GCP API; ROUTERS maps the endpoint-override prefix (`/sql/`, `/run/` …) to its router.

TUNNELED_ROUTERS: APIs gcloud has no endpoint-override property for, by their real host; the fake serves
them inside the proxy's CONNECT tunnel (tls.py), with the host's first label as the API name.
"""

from __future__ import annotations

from pmis_deploy.emulators.gcp.apis import (
    artifactregistry,
    cloudresourcemanager,
    cloudscheduler,
    iam,
    monitoring,
    network,
    oauth2,
    redis,
    run,
    secretmanager,
    servicenetworking,
    serviceusage,
    sql,
    storage,
)
from pmis_deploy.emulators.gcp.core import Router

ROUTERS: dict[str, Router] = {
    "artifactregistry": artifactregistry.router,
    "cloudresourcemanager": cloudresourcemanager.router,
    "cloudscheduler": cloudscheduler.router,
    "compute": network.compute,
    "iam": iam.router,
    "monitoring": monitoring.router,
    "oauth2": oauth2.router,
    "redis": redis.router,
    "run": run.router,
    "secretmanager": secretmanager.router,
    "serviceusage": serviceusage.router,
    "sql": sql.router,
    "storage": storage.router,
    "vpcaccess": network.vpcaccess,
}

TUNNELED_ROUTERS: dict[str, Router] = {
    servicenetworking.HOST: servicenetworking.router,
}
