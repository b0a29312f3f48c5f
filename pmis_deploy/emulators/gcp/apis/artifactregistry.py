"""Artifact Registry v1: repositories (create/get/list/patch/delete), IAM, operations."""

from __future__ import annotations

import copy
import re

from pmis_deploy.emulators.gcp.core import (
    JSON,
    Call,
    Reply,
    Router,
    get_location_operation,
    get_policy,
    invalid,
    location_operation,
    location_parent,
    lookup,
    now,
    page,
    set_policy,
    under,
    update_mask,
    vacant,
)

router = Router()
BASE = "v1/projects/{project}/locations/{location}"
TYPE = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"


def _repo(call: Call) -> JSON:
    name = f"{location_parent(call)}/repositories/{call.p('repo')}"
    return lookup(call, "artifactregistry.repositories", name, f'Repository "{name}"')


@router.route("POST", BASE + "/repositories")
def create_repository(call: Call) -> Reply:
    repo_id = call.query.get("repositoryId", "")
    if not re.match(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", repo_id):
        raise invalid(f"Invalid repository id {repo_id!r}.")
    name = f"{location_parent(call)}/repositories/{repo_id}"
    table = vacant(call, "artifactregistry.repositories", name, f"the repository already exists: {name}")
    body = copy.deepcopy(call.json())
    if body.get("format") in (None, "", "FORMAT_UNSPECIFIED"):
        raise invalid("Repository format is required.")
    stamp = now()
    repo = {
        **body,
        "name": name,
        "mode": body.get("mode") if body.get("mode") not in (None, "MODE_UNSPECIFIED") else "STANDARD_REPOSITORY",
        "createTime": stamp,
        "updateTime": stamp,
        "sizeBytes": "0",
        "satisfiesPzi": True,
        "registryUri": f"{call.p('location')}-docker.pkg.dev/{call.project()}/{repo_id}",
    }
    table[name] = repo
    metadata = {"@type": "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"}
    return 200, location_operation(call, {"@type": TYPE, **repo}, metadata)


@router.route("GET", BASE + "/repositories")
def list_repositories(call: Call) -> Reply:
    repos = under(call, "artifactregistry.repositories", f"{location_parent(call)}/repositories/")
    return 200, page(repos, call, "repositories")


@router.route("GET", BASE + "/repositories/{repo}")
def get_repository(call: Call) -> Reply:
    return 200, _repo(call)


@router.route("PATCH", BASE + "/repositories/{repo}")
def patch_repository(call: Call) -> Reply:
    repo = _repo(call)
    body = call.json()
    for field in update_mask(call, body):
        if field in ("name", "format", "mode", "createTime"):
            raise invalid(f"Field {field} cannot be updated.")
        if field in body:
            repo[field] = copy.deepcopy(body[field])
        else:
            repo.pop(field, None)
    repo["updateTime"] = now()
    return 200, repo


@router.route("DELETE", BASE + "/repositories/{repo}")
def delete_repository(call: Call) -> Reply:
    repo = _repo(call)
    call.store.table("artifactregistry.repositories").pop(repo["name"])
    return 200, location_operation(call, {})


@router.route("GET", BASE + "/repositories/{repo}:getIamPolicy")
def get_iam(call: Call) -> Reply:
    return 200, get_policy(call.store, _repo(call)["name"])


@router.route("POST", BASE + "/repositories/{repo}:setIamPolicy")
def set_iam(call: Call) -> Reply:
    return 200, set_policy(call.store, _repo(call)["name"], call.json())


router.route("GET", BASE + "/operations/{op}")(get_location_operation)
