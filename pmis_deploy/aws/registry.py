"""ECR repositories api/worker/web: immutable tags, scan on push, a lifecycle policy keeping the last N."""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, error_code

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings


def repository_request(settings: Settings, service: str) -> dict[str, Any]:
    return {
        "repositoryName": naming.repository(settings, service),
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "tags": [
            {"Key": "Project", "Value": settings.project},
            {"Key": "Environment", "Value": settings.environment.value},
        ],
    }


def lifecycle_policy(keep: int) -> dict[str, Any]:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the last {keep} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                "action": {"type": "expire"},
            }
        ]
    }


def describe(aws: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    """Our repositories that exist, by service."""
    names = {naming.repository(settings, s): s for s in naming.SERVICES}
    try:
        pages = aws.client("ecr").get_paginator("describe_repositories").paginate(repositoryNames=list(names))
        return {names[r["repositoryName"]]: r for page in pages for r in page["repositories"]}
    except Exception as exc:
        if error_code(exc) != "RepositoryNotFoundException":
            raise
    found = {}
    for name, service in names.items():  # some exist: ask one by one
        try:
            repo = aws.client("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]
        except Exception as exc:
            if error_code(exc) != "RepositoryNotFoundException":
                raise
            continue
        found[service] = repo
    return found


def _current_policy(aws: AwsClients, name: str) -> dict[str, Any] | None:
    try:
        text = aws.client("ecr").get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    except Exception as exc:
        if error_code(exc) == "LifecyclePolicyNotFoundException":
            return None
        raise
    return dict(json.loads(text))


def plan(aws: AwsClients, settings: Settings) -> list[Change]:
    ecr = aws.client("ecr")
    existing = describe(aws, settings)
    policy = lifecycle_policy(settings.aws.ecr_keep_images)
    policy_text = json.dumps(policy, sort_keys=True)
    changes: list[Change] = []
    for service in naming.SERVICES:
        request = repository_request(settings, service)
        name = request["repositoryName"]
        repo = existing.get(service)
        if repo is None:
            changes.append(
                Change(
                    f"ECR repository {name}",
                    "create",
                    "immutable tags, scan on push",
                    partial(ecr.create_repository, **request),
                )
            )
        else:
            if repo.get("imageTagMutability") != "IMMUTABLE":
                changes.append(
                    Change(
                        f"ECR repository {name}",
                        "update",
                        "tags immutable",
                        partial(ecr.put_image_tag_mutability, repositoryName=name, imageTagMutability="IMMUTABLE"),
                    )
                )
            if not repo.get("imageScanningConfiguration", {}).get("scanOnPush"):
                changes.append(
                    Change(
                        f"ECR repository {name}",
                        "update",
                        "scan on push",
                        partial(
                            ecr.put_image_scanning_configuration,
                            repositoryName=name,
                            imageScanningConfiguration={"scanOnPush": True},
                        ),
                    )
                )
        if repo is None or _current_policy(aws, name) != policy:
            changes.append(
                Change(
                    f"ECR repository {name}",
                    "update",
                    f"lifecycle: keep the last {settings.aws.ecr_keep_images} images",
                    partial(ecr.put_lifecycle_policy, repositoryName=name, lifecyclePolicyText=policy_text),
                )
            )
    return changes


def read(aws: AwsClients, settings: Settings) -> dict[str, str]:
    """Repository URIs by service (placeholders for missing ones)."""
    found = describe(aws, settings)
    return {
        s: str(found[s]["repositoryUri"]) if s in found else f"<new {naming.repository(settings, s)}>"
        for s in naming.SERVICES
    }
