"""Cloud Scheduler v1: jobs (create/get/list/patch/delete, pause/resume/run)."""

from __future__ import annotations

import copy

from pmis_deploy.emulators.gcp.core import (
    JSON,
    Call,
    Reply,
    Router,
    invalid,
    location_parent,
    lookup,
    now,
    page,
    under,
    update_mask,
    vacant,
)

router = Router()
BASE = "v1/projects/{project}/locations/{location}/jobs"
OUTPUT_ONLY = ("name", "state", "userUpdateTime", "scheduleTime", "lastAttemptTime", "status")


def _job(call: Call) -> JSON:
    name = f"{location_parent(call)}/jobs/{call.p('job')}"
    return lookup(call, "cloudscheduler.jobs", name, f"Job {name}")


def _validate(job: JSON) -> None:
    if not job.get("schedule") or len(str(job["schedule"]).split()) != 5:
        raise invalid(f"Schedule {job.get('schedule')!r} is not a valid unix-cron expression.")
    target = job.get("httpTarget")
    if target and not str(target.get("uri", "")).startswith(("http://", "https://")):
        raise invalid("httpTarget.uri must be an http(s) URL.")


@router.route("POST", BASE)
def create_job(call: Call) -> Reply:
    body = copy.deepcopy(call.json())
    name = body.get("name", "")
    if not name.startswith(f"{location_parent(call)}/jobs/"):
        raise invalid(f"Job name {name!r} must be in {location_parent(call)}.")
    table = vacant(call, "cloudscheduler.jobs", name, f"Job {name} already exists.")
    _validate(body)
    body.update(state="ENABLED", userUpdateTime=now(), scheduleTime=now())
    body.setdefault("timeZone", "Etc/UTC")
    table[name] = body
    return 200, body


@router.route("GET", BASE)
def list_jobs(call: Call) -> Reply:
    return 200, page(under(call, "cloudscheduler.jobs", f"{location_parent(call)}/jobs/"), call, "jobs")


@router.route("GET", BASE + "/{job}")
def get_job(call: Call) -> Reply:
    return 200, _job(call)


@router.route("PATCH", BASE + "/{job}")
def patch_job(call: Call) -> Reply:
    job = _job(call)
    body = call.json()
    updated = copy.deepcopy(job)
    for path in update_mask(call, body):
        if path in OUTPUT_ONLY:
            continue
        # updateMask paths may be nested ("httpTarget.uri"): copy the leaf.
        source, target = body, updated
        parts = path.split(".")
        for part in parts[:-1]:
            source = source.get(part) or {}
            target = target.setdefault(part, {})
        if parts[-1] in source:
            target[parts[-1]] = copy.deepcopy(source[parts[-1]])
        else:
            target.pop(parts[-1], None)
    _validate(updated)
    updated["userUpdateTime"] = now()
    job.clear()
    job.update(updated)
    return 200, job


@router.route("DELETE", BASE + "/{job}")
def delete_job(call: Call) -> Reply:
    call.store.table("cloudscheduler.jobs").pop(_job(call)["name"])
    return 200, {}


@router.route("POST", BASE + "/{job}:pause")
def pause_job(call: Call) -> Reply:
    job = _job(call)
    job["state"] = "PAUSED"
    return 200, job


@router.route("POST", BASE + "/{job}:resume")
def resume_job(call: Call) -> Reply:
    job = _job(call)
    job["state"] = "ENABLED"
    return 200, job


@router.route("POST", BASE + "/{job}:run")
def run_job(call: Call) -> Reply:
    job = _job(call)
    job["lastAttemptTime"] = now()
    return 200, job
