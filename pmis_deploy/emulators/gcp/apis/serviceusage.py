"""Service Usage v1: enable (single and batch), disable, get state, list; the SERVICE_DISABLED error."""

from __future__ import annotations

from pmis_deploy.emulators.gcp.core import JSON, ApiError, Call, Reply, Router, page, project_number
from pmis_deploy.emulators.gcp.state import Store

router = Router()

# Fake API prefix (the CLOUDSDK_API_ENDPOINT_OVERRIDES_<API> name) -> the service that gates it.
API_SERVICES = {
    "artifactregistry": "artifactregistry.googleapis.com",
    "cloudresourcemanager": "cloudresourcemanager.googleapis.com",
    "cloudscheduler": "cloudscheduler.googleapis.com",
    "compute": "compute.googleapis.com",
    "iam": "iam.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
    "redis": "redis.googleapis.com",
    "run": "run.googleapis.com",
    "secretmanager": "secretmanager.googleapis.com",
    "sql": "sqladmin.googleapis.com",
    "storage": "storage.googleapis.com",
    "vpcaccess": "vpcaccess.googleapis.com",
}


def is_enabled(store: Store, project: str, service: str) -> bool:
    if service in store.knobs.disabled_apis:
        return False
    if store.knobs.require_enabled_apis:
        return f"{project}/{service}" in store.table("serviceusage.enabled")
    return True


def disabled_error(project: str, service: str) -> ApiError:
    """The 403 the real APIs answer when their service is not enabled in the project."""
    number = project_number(project)
    return ApiError(
        403,
        "PERMISSION_DENIED",
        f"{service} API has not been used in project {number} before or it is disabled. Enable it by visiting "
        f"https://console.developers.google.com/apis/api/{service}/overview?project={number} then retry.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {"service": service, "consumer": f"projects/{number}"},
            }
        ],
    )


def _service(store: Store, project: str, service: str) -> JSON:
    number = project_number(project)
    return {
        "name": f"projects/{number}/services/{service}",
        "parent": f"projects/{number}",
        "config": {"name": service, "title": service.split(".")[0]},
        "state": "ENABLED" if is_enabled(store, project, service) else "DISABLED",
    }


def enable(store: Store, project: str, service: str) -> JSON:
    store.table("serviceusage.enabled")[f"{project}/{service}"] = True
    if service in store.knobs.disabled_apis:
        store.knobs.disabled_apis.remove(service)
    return _service(store, project, service)


@router.route("GET", "v1/projects/{project}/services/{service}")
def get_service(call: Call) -> Reply:
    return 200, _service(call.store, call.project(), call.p("service"))


@router.route("GET", "v1/projects/{project}/services")
def list_services(call: Call) -> Reply:
    project = call.project()
    enabled = {
        key.split("/", 1)[1] for key in call.store.table("serviceusage.enabled") if key.startswith(f"{project}/")
    }
    names = sorted(enabled | set(API_SERVICES.values()))
    services = [_service(call.store, project, name) for name in names]
    if "state:ENABLED" in call.query.get("filter", ""):
        services = [s for s in services if s["state"] == "ENABLED"]
    return 200, page(services, call, "services")


@router.route("POST", "v1/projects/{project}/services/{service}:enable")
def enable_one(call: Call) -> Reply:
    service = enable(call.store, call.project(), call.p("service"))
    response = {"@type": "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse", "service": service}
    return 200, call.store.operation(call.store.new_op_name(""), response)


@router.route("POST", "v1/projects/{project}/services:batchEnable")
def batch_enable(call: Call) -> Reply:
    ids = call.json().get("serviceIds") or []
    if not ids:
        raise ApiError(400, "INVALID_ARGUMENT", "serviceIds must not be empty.")
    services = [enable(call.store, call.project(), s) for s in ids]
    response = {
        "@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse",
        "services": services,
    }
    return 200, call.store.operation(call.store.new_op_name(""), response)


@router.route("POST", "v1/projects/{project}/services/{service}:disable")
def disable(call: Call) -> Reply:
    project, name = call.project(), call.p("service")
    call.store.table("serviceusage.enabled").pop(f"{project}/{name}", None)
    if name not in call.store.knobs.disabled_apis:
        call.store.knobs.disabled_apis.append(name)
    response = {
        "@type": "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse",
        "service": _service(call.store, project, name),
    }
    return 200, call.store.operation(call.store.new_op_name(""), response)


@router.route("GET", "v1/operations/{op}")
def get_operation(call: Call) -> Reply:
    return 200, call.store.poll(f"operations/{call.p('op')}")
