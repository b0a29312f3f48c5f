"""IAM v1: service accounts (create/get/list/patch/delete) and their IAM policies."""

from __future__ import annotations

import re

from pmis_deploy.emulators.gcp.core import (
    JSON,
    ApiError,
    Call,
    Reply,
    Router,
    get_policy,
    invalid,
    not_found,
    page,
    project_number,
    set_policy,
)
from pmis_deploy.emulators.gcp.state import Store

router = Router()
BASE = "v1/projects/{project}/serviceAccounts"
_ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]{4,28}[a-z0-9])$")


def service_account(store: Store, email: str) -> JSON | None:
    """The service account with this email, in any project (None if absent)."""
    for account in store.table("iam.serviceAccounts").values():
        if account["email"] == email:
            return dict(account)
    return None


def _account(call: Call) -> JSON:
    ref = call.p("account")
    for account in call.store.table("iam.serviceAccounts").values():
        if ref in (account["email"], account["uniqueId"]) and call.project() in ("-", account["projectId"]):
            return dict(account)
    raise not_found(f"Service account projects/{call.p('project')}/serviceAccounts/{ref}")


@router.route("POST", BASE)
def create_account(call: Call) -> Reply:
    body = call.json()
    account_id = body.get("accountId", "")
    if not _ACCOUNT_ID.match(account_id):
        raise invalid(f"Invalid account id {account_id!r}: 6-30 lowercase letters, digits and hyphens.")
    project = call.project()
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    table = call.store.table("iam.serviceAccounts")
    if email in table:
        raise ApiError(
            409, "ALREADY_EXISTS", f"Service account {account_id} already exists within project projects/{project}."
        )
    details = body.get("serviceAccount") or {}
    unique_id = str(100000000000000000000 + call.store.next("iam.uniqueId"))
    account = {
        "name": f"projects/{project}/serviceAccounts/{email}",
        "projectId": project,
        "uniqueId": unique_id,
        "email": email,
        "oauth2ClientId": unique_id,
        "etag": "MDEwMjE5MjA=",
        **{k: v for k, v in details.items() if k in ("displayName", "description")},
    }
    table[email] = account
    return 200, account


@router.route("GET", BASE)
def list_accounts(call: Call) -> Reply:
    project = call.project()
    accounts = [a for _, a in sorted(call.store.table("iam.serviceAccounts").items()) if a["projectId"] == project]
    return 200, page(accounts, call, "accounts")


@router.route("GET", BASE + "/{account}")
def get_account(call: Call) -> Reply:
    return 200, _account(call)


@router.route("PATCH", BASE + "/{account}")
def patch_account(call: Call) -> Reply:
    account = call.store.table("iam.serviceAccounts")[_account(call)["email"]]
    body = call.json().get("serviceAccount") or call.json()
    for field in ("displayName", "description"):
        if field in body:
            account[field] = body[field]
    return 200, account


@router.route("PUT", BASE + "/{account}")
def update_account(call: Call) -> Reply:
    return patch_account(call)


@router.route("DELETE", BASE + "/{account}")
def delete_account(call: Call) -> Reply:
    call.store.table("iam.serviceAccounts").pop(_account(call)["email"])
    return 200, {}


@router.route("POST", BASE + "/{account}:getIamPolicy")
def get_iam(call: Call) -> Reply:
    return 200, get_policy(call.store, _account(call)["name"])


@router.route("POST", BASE + "/{account}:setIamPolicy")
def set_iam(call: Call) -> Reply:
    return 200, set_policy(call.store, _account(call)["name"], call.json())


def check_members(store: Store, policy: JSON) -> None:
    """Bindings naming a user-managed service account that does not exist fail, as on GCP."""
    for binding in policy.get("bindings") or []:
        for member in binding.get("members") or []:
            email = member.split(":", 1)[1] if member.startswith("serviceAccount:") else ""
            if (
                email.endswith(".iam.gserviceaccount.com")
                and "@gcp-sa-" not in email
                and service_account(store, email) is None
            ):
                raise ApiError(400, "INVALID_ARGUMENT", f"Service account {email} does not exist.")


def project_resource(project: str) -> JSON:
    return {
        "projectNumber": project_number(project),
        "projectId": project,
        "lifecycleState": "ACTIVE",
        "name": project,
        "createTime": "2024-01-01T00:00:00.000Z",
        "parent": {"type": "organization", "id": "123456789"},
    }
