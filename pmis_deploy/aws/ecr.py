"""ECR for the release flow: repository URIs, what a tag already points at, and registry credentials.

Login uses boto3's `get_authorization_token` (never the CLI, never a password in argv): the token is
base64("AWS:<password>"), registered for redaction and handed to the engine on stdin.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from pmis_deploy.aws import naming
from pmis_deploy.images import Credentials

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings


def repository_uri(aws: AwsClients, settings: Settings, service: str, account_id: str) -> str:
    return f"{account_id}.dkr.ecr.{aws.region}.amazonaws.com/{naming.repository(settings, service)}"


def pushed_digest(aws: AwsClients, settings: Settings, service: str, tag: str) -> str | None:
    """The digest ECR holds for `<repo>:<tag>`, or None (repository or tag missing)."""
    try:
        response = aws.client("ecr").describe_images(
            repositoryName=naming.repository(settings, service), imageIds=[{"imageTag": tag}]
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    details = response.get("imageDetails") or []
    return str(details[0]["imageDigest"]) if details else None


def credentials(aws: AwsClients) -> Credentials:
    """Registry credentials from ECR's authorization token (valid 12 hours)."""
    data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    return Credentials(registry=registry, username=user, password=password)
