"""Cloud Run: Knative v1 services and revisions, v1 jobs and executions, IAM on services and jobs.

Regional requests arrive on `{region}-run.fake` (gcloud prefixes the region to the override's host); the
global host serves IAM policies and the multi-region list (`locations/-`).

Semantics kept from the real API:
- create fills `spec.traffic` with LATEST=100; every change of `spec.template` makes a new revision
  (named by `template.metadata.name` when the client sets it, else `{service}-{n:05d}-{abc}`);
- `status.traffic` resolves LATEST to the latest ready revision, tags get their own URL;
- `metadata.generation` grows with each change of `spec`, `status.observedGeneration` follows it;
- a revision that fails (knob `fail_service_revisions`) leaves the service Ready False with its message
  and traffic on the previous ready revision; a stale `metadata.resourceVersion` is a 409.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    already_exists,
    get_policy,
    invalid,
    lookup,
    new_uid,
    not_found,
    now,
    project_id,
    project_number,
    rand_suffix,
    set_policy,
    test_permissions,
)
from pmis_deploy.emulators.gcp.state import Store

router = Router()
SERVING = "apis/serving.knative.dev/v1/namespaces/{ns}"
JOBS = "apis/run.googleapis.com/v1/namespaces/{ns}"
LOCATIONS = "v1/projects/{project}/locations/{region}"
CREATOR = "fake-deployer@pmis.local"
LOCATION_LABEL = "cloud.googleapis.com/location"
DEFAULT_REVISION_FAILURE = (
    "Container failed to start. Failed to start and then listen on the port defined by the PORT environment "
    "variable within the allocated timeout. Logs for this revision might contain more information."
)
DEFAULT_EXECUTION_FAILURE = "Task failed with message: The container exited with an error (exit code 1)."


# --------------------------------------------------------------------------------------------- helpers


def _region(call: Call) -> str:
    region = call.params.get("region") or call.region
    if not region or region == "-":
        raise invalid("This Cloud Run request needs a regional endpoint ({region}-run...).")
    return region


def _key(call: Call, name: str) -> str:
    return f"{call.project('ns')}/{_region(call)}/{name}"


def _list(kind: str, items: list[JSON]) -> JSON:
    api = "serving.knative.dev/v1" if kind in ("Service", "Revision") else "run.googleapis.com/v1"
    return {"apiVersion": api, "kind": f"{kind}List", "items": items, "metadata": {}}


def _matches(labels: dict[str, str], selector: str) -> bool:
    """Knative label selectors as gcloud sends them: `a = b`, `a=b`, `a != b`, comma-separated."""
    for requirement in filter(None, (r.strip() for r in selector.split(","))):
        match = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", requirement)
        if not match:
            raise invalid(f"Unsupported labelSelector {selector!r}.")
        key, op, value = match.group(1), match.group(2), match.group(3).strip()
        if (labels.get(key) == value) != (op != "!="):
            return False
    return True


def _meta(call: Call, body: JSON, kind: str) -> JSON:
    metadata = copy.deepcopy(body.get("metadata") or {})
    name = metadata.get("name")
    if not name or not re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", name):
        raise invalid(f"{kind} name {name!r} must be lowercase letters, digits and hyphens (max 63).")
    metadata.update(
        namespace=project_number(call.project("ns")),
        uid=new_uid(),
        generation=1,
        resourceVersion=str(call.store.next("resourceVersion")),
        creationTimestamp=now(),
    )
    metadata.setdefault("labels", {})[LOCATION_LABEL] = _region(call)
    annotations = metadata.setdefault("annotations", {})
    annotations.setdefault("serving.knative.dev/creator", CREATOR)
    annotations["serving.knative.dev/lastModifier"] = CREATOR
    return metadata


def _check_version(current: JSON, body: JSON) -> None:
    sent = (body.get("metadata") or {}).get("resourceVersion")
    if sent and sent != current["metadata"]["resourceVersion"]:
        raise ApiError(409, "ABORTED", "The object has been modified; please apply your changes to the latest version.")


def _normalized(spec: JSON | None) -> JSON:
    """A copy of a service/job spec with boolean template annotations lower-cased, as the API stores them
    (gcloud sends `run.googleapis.com/cpu-throttling: "False"`, describe shows "false")."""
    out = copy.deepcopy(spec or {})
    template = out.get("template") or {}
    for holder in (template, (template.get("spec") or {}).get("template") or {}):
        annotations = (holder.get("metadata") or {}).get("annotations") or {}
        for key, value in annotations.items():
            if value in ("True", "False"):
                annotations[key] = value.lower()
    return out


def _condition(kind: str, status: str, message: str = "", reason: str = "") -> JSON:
    condition: JSON = {"type": kind, "status": status, "lastTransitionTime": now()}
    if message:
        condition["message"] = message
    if reason:
        condition["reason"] = reason
    return condition


# -------------------------------------------------------------------------------------------- services


def _service_url(call: Call, service: str, tag: str | None = None) -> str:
    host = f"{service}-{project_number(call.project('ns'))}.{_region(call)}.run.app"
    return f"https://{tag}---{host}" if tag else f"https://{host}"


def _new_revision(call: Call, entry: JSON) -> None:
    service = entry["service"]
    name = service["metadata"]["name"]
    template = service["spec"]["template"]
    entry["revcount"] += 1
    rev_name = (template.get("metadata") or {}).get("name") or f"{name}-{entry['revcount']:05d}-{rand_suffix(3)}"
    if not rev_name.startswith(f"{name}-"):
        raise invalid(f"Revision name {rev_name!r} must start with the service name and a hyphen ({name}-).")
    revisions = call.store.table("run.revisions")
    if _key(call, rev_name) in revisions:
        raise ApiError(
            409, "ALREADY_EXISTS", f"Revision named '{rev_name}' with different configuration already exists."
        )
    failures = call.store.knobs.fail_service_revisions
    failed = name in failures
    tmeta = template.get("metadata") or {}
    containers = (template.get("spec") or {}).get("containers") or [{}]
    image = containers[0].get("image", "")
    revisions[_key(call, rev_name)] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": rev_name,
            "namespace": service["metadata"]["namespace"],
            "uid": new_uid(),
            "generation": 1,
            "creationTimestamp": now(),
            "labels": {
                **(tmeta.get("labels") or {}),
                "serving.knative.dev/service": name,
                "serving.knative.dev/configuration": name,
                "serving.knative.dev/configurationGeneration": str(service["metadata"]["generation"]),
                "serving.knative.dev/route": name,
                LOCATION_LABEL: _region(call),
            },
            "annotations": {**(tmeta.get("annotations") or {}), "serving.knative.dev/creator": CREATOR},
            "ownerReferences": [
                {"kind": "Configuration", "name": name, "apiVersion": "serving.knative.dev/v1", "controller": True}
            ],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
        "status": {
            "observedGeneration": 1,
            "imageDigest": _image_digest(image),
            "logUrl": f"https://console.cloud.google.com/logs/viewer?revision={rev_name}",
            "_ready": not failed,
            "_message": (failures.get(name) or DEFAULT_REVISION_FAILURE) if failed else "",
        },
    }
    entry["latestCreated"] = rev_name
    if not failed:
        entry["latestReady"] = rev_name


def _image_digest(image: str) -> str:
    """The digest reference a revision reports: the image itself if pinned, else a stable fake digest."""
    if "@sha256:" in image:
        return image
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _resolve_traffic(call: Call, entry: JSON) -> list[JSON]:
    resolved = []
    for target in entry["service"]["spec"].get("traffic") or []:
        out: JSON = {}
        if target.get("latestRevision"):
            out["latestRevision"] = True
            if entry.get("latestReady"):
                out["revisionName"] = entry["latestReady"]
        else:
            out["revisionName"] = target.get("revisionName")
        if target.get("percent"):
            out["percent"] = target["percent"]
        if target.get("tag"):
            out["tag"] = target["tag"]
            out["url"] = _service_url(call, entry["service"]["metadata"]["name"], target["tag"])
        resolved.append(out)
    return resolved


def _validate_traffic(call: Call, entry: JSON) -> None:
    traffic = entry["service"]["spec"].get("traffic") or []
    total = sum(int(t.get("percent") or 0) for t in traffic)
    if traffic and total != 100:
        raise invalid(f"Traffic percentages must add up to 100 (got {total}).")
    name = entry["service"]["metadata"]["name"]
    for target in traffic:
        rev = target.get("revisionName")
        if rev and not target.get("latestRevision"):
            stored = call.store.table("run.revisions").get(_key(call, rev))
            if stored is None or stored["metadata"]["labels"]["serving.knative.dev/service"] != name:
                raise invalid(f"Revision '{rev}' referenced in traffic not found.")


def _service_view(call: Call, entry: JSON, *, poll: bool) -> JSON:
    """The Service as the API returns it: the stored object plus a status computed from the revisions."""
    service = copy.deepcopy(entry["service"])
    name = service["metadata"]["name"]
    generation = service["metadata"]["generation"]
    status: JSON = {"observedGeneration": generation, "url": _service_url(call, name)}
    status["address"] = {"url": status["url"]}
    if entry.get("latestCreated"):
        status["latestCreatedRevisionName"] = entry["latestCreated"]
    if entry.get("latestReady"):
        status["latestReadyRevisionName"] = entry["latestReady"]
    status["traffic"] = _resolve_traffic(call, entry)
    latest = call.store.table("run.revisions").get(_key(call, entry.get("latestCreated", "")))
    if entry["pending"] > 0:
        if poll:
            entry["pending"] -= 1
        message = "Deploying revision."
        status["conditions"] = [
            _condition(t, "Unknown", message) for t in ("Ready", "ConfigurationsReady", "RoutesReady")
        ]
    elif latest is not None and not latest["status"]["_ready"]:
        message = (
            f"Revision '{entry['latestCreated']}' is not ready and cannot serve traffic. {latest['status']['_message']}"
        )
        status["conditions"] = [
            _condition("Ready", "False", message, "RevisionFailed"),
            _condition("ConfigurationsReady", "False", message, "RevisionFailed"),
            _condition("RoutesReady", "True"),
        ]
    else:
        status["conditions"] = [_condition(t, "True") for t in ("Ready", "ConfigurationsReady", "RoutesReady")]
    service["status"] = status
    return service


def _missing(call: Call, name: str, kind: str) -> str:
    """How Cloud Run names a resource it cannot find."""
    return f"Resource '{name}' of kind '{kind}' in region '{_region(call)}' in project '{call.project('ns')}'"


def _entry(call: Call, name: str) -> JSON:
    return lookup(call, "run.services", _key(call, name), _missing(call, name, "SERVICE"))


@router.route("POST", SERVING + "/services")
def create_service(call: Call) -> Reply:
    body = call.json()
    metadata = _meta(call, body, "Service")
    name = metadata["name"]
    table = call.store.table("run.services")
    if _key(call, name) in table:
        raise already_exists(f"Resource '{name}'")
    spec = _normalized(body.get("spec"))
    spec.setdefault("template", {})
    if not spec.get("traffic"):
        spec["traffic"] = [{"latestRevision": True, "percent": 100}]
    service = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": metadata, "spec": spec}
    entry: JSON = {"service": service, "revcount": 0, "pending": call.store.knobs.run_polls}
    _new_revision(call, entry)
    _validate_traffic(call, entry)
    table[_key(call, name)] = entry
    return 200, _service_view(call, entry, poll=False)


@router.route("GET", SERVING + "/services")
def list_services(call: Call) -> Reply:
    prefix = _key(call, "")
    entries = [e for k, e in sorted(call.store.table("run.services").items()) if k.startswith(prefix)]
    return 200, _list("Service", [_service_view(call, e, poll=False) for e in entries])


@router.route("GET", SERVING + "/services/{name}")
def get_service(call: Call) -> Reply:
    return 200, _service_view(call, _entry(call, call.p("name")), poll=True)


@router.route("PUT", SERVING + "/services/{name}")
def replace_service(call: Call) -> Reply:
    entry = _entry(call, call.p("name"))
    before = copy.deepcopy(entry)
    body = call.json()
    current = entry["service"]
    _check_version(current, body)
    spec = _normalized(body.get("spec"))
    if not spec.get("traffic"):
        spec["traffic"] = [{"latestRevision": True, "percent": 100}]
    new_template = spec.get("template") != current["spec"].get("template")
    metadata = current["metadata"]
    sent = body.get("metadata") or {}
    metadata["labels"] = {**(sent.get("labels") or {}), LOCATION_LABEL: _region(call)}
    metadata["annotations"] = {**(sent.get("annotations") or {}), "serving.knative.dev/lastModifier": CREATOR}
    metadata["annotations"].setdefault("serving.knative.dev/creator", CREATOR)
    metadata["resourceVersion"] = str(call.store.next("resourceVersion"))
    if spec != current["spec"]:
        metadata["generation"] += 1
        current["spec"] = spec
        entry["pending"] = call.store.knobs.run_polls
    try:
        if new_template:
            _new_revision(call, entry)
        _validate_traffic(call, entry)
    except ApiError:
        call.store.table("run.services")[_key(call, call.p("name"))] = before
        raise
    return 200, _service_view(call, entry, poll=False)


@router.route("DELETE", SERVING + "/services/{name}")
def delete_service(call: Call) -> Reply:
    name = call.p("name")
    _entry(call, name)
    call.store.table("run.services").pop(_key(call, name))
    call.store.table("iam.policies").pop(
        f"projects/{call.project('ns')}/locations/{_region(call)}/services/{name}", None
    )
    revisions = call.store.table("run.revisions")
    for key in [
        k
        for k, r in revisions.items()
        if k.startswith(_key(call, "")) and r["metadata"]["labels"]["serving.knative.dev/service"] == name
    ]:
        revisions.pop(key)
    return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success", "details": {"name": name}}


# ------------------------------------------------------------------------------------------- revisions


def _serving(call: Call, revision: JSON) -> tuple[int, bool]:
    """(percent of traffic, tagged) the revision gets from its service's resolved traffic."""
    entry = call.store.table("run.services").get(
        _key(call, revision["metadata"]["labels"]["serving.knative.dev/service"])
    )
    if entry is None:
        return 0, False
    name = revision["metadata"]["name"]
    targets = [t for t in _resolve_traffic(call, entry) if t.get("revisionName") == name]
    return sum(t.get("percent", 0) for t in targets), any(t.get("tag") for t in targets)


def _revision_view(call: Call, revision: JSON) -> JSON:
    out = copy.deepcopy(revision)
    status = out["status"]
    ready, message = status.pop("_ready"), status.pop("_message")
    percent, tagged = _serving(call, revision)
    status["conditions"] = [
        _condition("Ready", "True") if ready else _condition("Ready", "False", message, "ContainerMissing"),
        _condition(
            "Active", "True" if percent or tagged else "False", "" if percent or tagged else "Revision retired."
        ),
        _condition("ContainerHealthy", "True" if ready else "False", message),
        _condition("ResourcesAvailable", "True"),
    ]
    return out


def _revision(call: Call) -> JSON:
    return lookup(call, "run.revisions", _key(call, call.p("name")), f"Revision '{call.p('name')}'")


@router.route("GET", SERVING + "/revisions")
def list_revisions(call: Call) -> Reply:
    prefix = _key(call, "")
    selector = call.query.get("labelSelector", "")
    items = [
        _revision_view(call, r)
        for k, r in call.store.table("run.revisions").items()
        if k.startswith(prefix) and _matches(r["metadata"]["labels"], selector)
    ]
    items.sort(key=lambda r: r["metadata"]["creationTimestamp"], reverse=True)
    return 200, _list("Revision", items)


@router.route("GET", SERVING + "/revisions/{name}")
def get_revision(call: Call) -> Reply:
    return 200, _revision_view(call, _revision(call))


@router.route("DELETE", SERVING + "/revisions/{name}")
def delete_revision(call: Call) -> Reply:
    revision = _revision(call)
    percent, tagged = _serving(call, revision)
    if percent or tagged:
        raise ApiError(400, "FAILED_PRECONDITION", f"Revision {call.p('name')} is serving traffic.")
    call.store.table("run.revisions").pop(_key(call, call.p("name")))
    return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success"}


# ------------------------------------------------------------------------------------------------ jobs


def _job(call: Call, name: str) -> JSON:
    return lookup(call, "run.jobs", _key(call, name), _missing(call, name, "JOB"))


def _job_view(call: Call, job: JSON) -> JSON:
    out = copy.deepcopy(job)
    status = out.setdefault("status", {})
    status.update(observedGeneration=job["metadata"]["generation"], conditions=[_condition("Ready", "True")])
    latest = status.get("latestCreatedExecution")
    if latest:
        region = job["metadata"]["labels"][LOCATION_LABEL]
        execution = call.store.table("run.executions").get(
            f"{project_id(job['metadata']['namespace'])}/{region}/{latest['name']}"
        )
        if execution is not None and execution["_pending"] <= 0:
            latest["completionStatus"] = "EXECUTION_FAILED" if execution["_failed"] else "EXECUTION_SUCCEEDED"
            latest["completionTimestamp"] = execution["metadata"]["creationTimestamp"]
        elif execution is not None:
            latest["completionStatus"] = "EXECUTION_RUNNING"
    return out


@router.route("POST", JOBS + "/jobs")
def create_job(call: Call) -> Reply:
    body = call.json()
    metadata = _meta(call, body, "Job")
    table = call.store.table("run.jobs")
    if _key(call, metadata["name"]) in table:
        raise already_exists(f"Resource '{metadata['name']}'")
    job = {
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": _normalized(body.get("spec")),
        "status": {"executionCount": 0},
    }
    table[_key(call, metadata["name"])] = job
    return 200, _job_view(call, job)


@router.route("GET", JOBS + "/jobs")
def list_jobs(call: Call) -> Reply:
    # On the global host (`gcloud run jobs list` without --region) every region is listed.
    prefix = _key(call, "") if call.region else f"{call.project('ns')}/"
    jobs = [_job_view(call, j) for k, j in sorted(call.store.table("run.jobs").items()) if k.startswith(prefix)]
    return 200, _list("Job", jobs)


@router.route("GET", JOBS + "/jobs/{name}")
def get_job(call: Call) -> Reply:
    return 200, _job_view(call, _job(call, call.p("name")))


@router.route("PUT", JOBS + "/jobs/{name}")
def replace_job(call: Call) -> Reply:
    job = _job(call, call.p("name"))
    body = call.json()
    _check_version(job, body)
    sent = body.get("metadata") or {}
    metadata = job["metadata"]
    metadata["labels"] = {**(sent.get("labels") or {}), LOCATION_LABEL: _region(call)}
    metadata["annotations"] = {**(sent.get("annotations") or {}), "serving.knative.dev/lastModifier": CREATOR}
    metadata["resourceVersion"] = str(call.store.next("resourceVersion"))
    spec = _normalized(body.get("spec"))
    if spec != job["spec"]:
        metadata["generation"] += 1
        job["spec"] = spec
    return 200, _job_view(call, job)


@router.route("DELETE", JOBS + "/jobs/{name}")
def delete_job(call: Call) -> Reply:
    _job(call, call.p("name"))
    call.store.table("run.jobs").pop(_key(call, call.p("name")))
    resource = f"projects/{call.project('ns')}/locations/{_region(call)}/jobs/{call.p('name')}"
    call.store.table("iam.policies").pop(resource, None)
    return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success"}


def _apply_overrides(template: JSON, overrides: JSON) -> None:
    containers = (template.get("spec") or {}).get("containers") or []
    for index, override in enumerate(overrides.get("containerOverrides") or []):
        target = next((c for c in containers if c.get("name") == override.get("name")), None)
        if target is None and index < len(containers):
            target = containers[index]
        if target is None:
            continue
        if override.get("args") or override.get("clearArgs"):
            target["args"] = override.get("args") or []
        env = {e["name"]: e for e in target.get("env") or []}
        env.update({e["name"]: e for e in override.get("env") or []})
        if env:
            target["env"] = list(env.values())
    if overrides.get("timeoutSeconds"):
        template.setdefault("spec", {})["timeoutSeconds"] = overrides["timeoutSeconds"]


@router.route("POST", JOBS + "/jobs/{name}:run")
def run_job(call: Call) -> Reply:
    job = _job(call, call.p("name"))
    name = f"{job['metadata']['name']}-{rand_suffix(5, 'abcdefghijklmnopqrstuvwxyz0123456789')}"
    job_template = copy.deepcopy(job["spec"].get("template") or {})
    task_template = copy.deepcopy((job_template.get("spec") or {}).get("template") or {})
    overrides = call.json().get("overrides") or {}
    _apply_overrides(task_template, overrides)
    task_count = overrides.get("taskCount") or (job_template.get("spec") or {}).get("taskCount") or 1
    failures = call.store.knobs.fail_job_executions
    execution: JSON = {
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Execution",
        "metadata": {
            "name": name,
            "namespace": job["metadata"]["namespace"],
            "uid": new_uid(),
            "generation": 1,
            "creationTimestamp": now(),
            "labels": {
                "run.googleapis.com/job": job["metadata"]["name"],
                "run.googleapis.com/jobUid": job["metadata"]["uid"],
                LOCATION_LABEL: _region(call),
            },
            "annotations": {"run.googleapis.com/creator": CREATOR},
            "ownerReferences": [
                {"kind": "Job", "name": job["metadata"]["name"], "apiVersion": "run.googleapis.com/v1"}
            ],
        },
        "spec": {
            "parallelism": (job_template.get("spec") or {}).get("parallelism", 0),
            "taskCount": task_count,
            "template": task_template,
        },
        "_failed": job["metadata"]["name"] in failures,
        "_message": failures.get(job["metadata"]["name"]) or DEFAULT_EXECUTION_FAILURE,
        "_pending": call.store.knobs.run_polls,
        "_overrides": overrides,
    }
    call.store.table("run.executions")[_key(call, name)] = execution
    job["status"]["executionCount"] = job["status"].get("executionCount", 0) + 1
    job["status"]["latestCreatedExecution"] = {
        "name": name,
        "creationTimestamp": execution["metadata"]["creationTimestamp"],
    }
    return 200, _execution_view(execution, poll=False)


def _execution_view(execution: JSON, *, poll: bool) -> JSON:
    out = {k: copy.deepcopy(v) for k, v in execution.items() if not k.startswith("_")}
    started = execution["metadata"]["creationTimestamp"]
    status: JSON = {"observedGeneration": 1, "startTime": started, "logUri": "https://console.cloud.google.com/logs"}
    tasks = execution["spec"]["taskCount"]
    if execution["_pending"] > 0:
        if poll:
            execution["_pending"] -= 1
        status["runningCount"] = tasks
        status["conditions"] = [
            _condition("Completed", "Unknown", "Provisioning resources."),
            _condition("ResourcesAvailable", "True"),
            _condition("Started", "True"),
        ]
    elif execution["_failed"]:
        status.update(failedCount=tasks, completionTime=now())
        status["conditions"] = [
            _condition("Completed", "False", execution["_message"], "NonZeroExitCode"),
            _condition("ResourcesAvailable", "True"),
            _condition("Started", "True"),
        ]
    else:
        status.update(succeededCount=tasks, completionTime=now())
        status["conditions"] = [
            _condition("Completed", "True"),
            _condition("ResourcesAvailable", "True"),
            _condition("Started", "True"),
        ]
    out["status"] = status
    return out


def _execution(call: Call) -> JSON:
    return lookup(call, "run.executions", _key(call, call.p("name")), f"Execution '{call.p('name')}'")


@router.route("GET", JOBS + "/executions")
def list_executions(call: Call) -> Reply:
    prefix = _key(call, "")
    selector = call.query.get("labelSelector", "")
    items = [
        _execution_view(e, poll=False)
        for k, e in call.store.table("run.executions").items()
        if k.startswith(prefix) and _matches(e["metadata"]["labels"], selector)
    ]
    items.sort(key=lambda e: e["metadata"]["creationTimestamp"], reverse=True)
    return 200, _list("Execution", items)


@router.route("GET", JOBS + "/executions/{name}")
def get_execution(call: Call) -> Reply:
    return 200, _execution_view(_execution(call), poll=True)


@router.route("POST", JOBS + "/executions/{name}:cancel")
def cancel_execution(call: Call) -> Reply:
    execution = _execution(call)
    execution.update(_pending=0, _failed=True, _message="The execution was cancelled.")
    return 200, _execution_view(execution, poll=False)


@router.route("DELETE", JOBS + "/executions/{name}")
def delete_execution(call: Call) -> Reply:
    _execution(call)
    call.store.table("run.executions").pop(_key(call, call.p("name")))
    return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success"}


# ----------------------------------------------------------------------------- global host: list + IAM


@router.route("GET", "v1/projects/{project}/locations/{region}/services")
def list_services_global(call: Call) -> Reply:
    project, region = call.project(), call.p("region")
    items = []
    for key, entry in sorted(call.store.table("run.services").items()):
        p, r, _ = key.split("/", 2)
        if p == project and region in ("-", r):
            view_call = Call(**{**call.__dict__, "region": r, "params": {"ns": p, "region": r}})
            items.append(_service_view(view_call, entry, poll=False))
    return 200, _list("Service", items)


def _resource(call: Call, kind: str) -> str:
    """The IAM resource name of a service or job; 404 when it does not exist."""
    project, region, name = call.project(), call.p("region"), call.p("name")
    table = "run.services" if kind == "services" else "run.jobs"
    if f"{project}/{region}/{name}" not in call.store.table(table):
        raise not_found(f"Resource '{name}'")
    return f"projects/{project}/locations/{region}/{kind}/{name}"


def _iam_routes(kind: str) -> None:
    path = LOCATIONS + f"/{kind}/{{name}}"

    def get_iam(call: Call) -> Reply:
        return 200, get_policy(call.store, _resource(call, kind))

    def set_iam(call: Call) -> Reply:
        return 200, set_policy(call.store, _resource(call, kind), call.json())

    router.route("GET", path + ":getIamPolicy")(get_iam)
    router.route("POST", path + ":getIamPolicy")(get_iam)
    router.route("POST", path + ":setIamPolicy")(set_iam)
    router.route("POST", path + ":testIamPermissions")(test_permissions)


_iam_routes("services")
_iam_routes("jobs")


def state_summary(store: Store) -> dict[str, Any]:
    """Service name -> {revisions, traffic} for quick assertions in tests (see FakeGcp.run_services)."""
    out: dict[str, Any] = {}
    for key, entry in store.table("run.services").items():
        out[key] = {
            "latestCreated": entry.get("latestCreated"),
            "latestReady": entry.get("latestReady"),
            "traffic": entry["service"]["spec"].get("traffic"),
        }
    return out
