"""Cloud Resource Manager v1 (and v3 reads): projects and their IAM policy, with etag checking."""

from __future__ import annotations

from pmis_deploy.emulators.gcp.apis.iam import check_members, project_resource
from pmis_deploy.emulators.gcp.core import Call, Reply, Router, get_policy, invalid, set_policy

router = Router()


@router.route("GET", "v1/projects/{project}")
def get_project(call: Call) -> Reply:
    return 200, project_resource(call.project())


@router.route("GET", "v3/projects/{project}")
def get_project_v3(call: Call) -> Reply:
    resource = project_resource(call.project())
    return 200, {
        "name": f"projects/{resource['projectNumber']}",
        "projectId": resource["projectId"],
        "state": "ACTIVE",
        "displayName": resource["projectId"],
        "parent": "organizations/123456789",
    }


@router.route("POST", "v1/projects/{project}:getIamPolicy")
def get_iam(call: Call) -> Reply:
    policy = get_policy(call.store, f"projects/{call.project()}")
    requested = int(((call.json().get("options") or {}).get("requestedPolicyVersion")) or 1)
    if requested not in (1, 3):
        raise invalid("requestedPolicyVersion must be 1 or 3.")
    return 200, policy


@router.route("POST", "v1/projects/{project}:setIamPolicy")
def set_iam(call: Call) -> Reply:
    body = call.json()
    check_members(call.store, body.get("policy") or {})
    return 200, set_policy(call.store, f"projects/{call.project()}", body)
