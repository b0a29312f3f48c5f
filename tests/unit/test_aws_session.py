"""The boto3 layer refuses mutating calls in dry-run, before anything is sent."""

from __future__ import annotations

import pytest

from pmis_deploy.aws.session import AwsClients, is_read_only
from pmis_deploy.errors import DryRunViolation


@pytest.mark.parametrize(
    ("operation", "read"),
    [
        ("DescribeServices", True),
        ("ListTasks", True),
        ("GetSecretValue", True),
        ("GetAuthorizationToken", True),
        ("BatchGetImage", True),
        ("HeadObject", True),
        ("UpdateService", False),
        ("CreateSecret", False),
        ("PutSecretValue", False),
        ("RegisterTaskDefinition", False),
        ("RunTask", False),
        ("AuthorizeSecurityGroupIngress", False),
        ("BatchDeleteImage", False),
        ("PutObject", False),
        ("DeleteObject", False),
    ],
)
def test_operation_classification(operation: str, read: bool) -> None:
    assert is_read_only(operation) is read


def test_dry_run_refuses_mutating_call_before_sending() -> None:
    # Port 9 (discard) on loopback: nothing answers, so only a refused call can end without a connection error.
    aws = AwsClients(region="us-east-1", endpoint_url="http://127.0.0.1:9", dry_run=True)
    with pytest.raises(DryRunViolation, match="ecs:UpdateService"):
        aws.client("ecs").update_service(cluster="c", service="s", taskDefinition="t")
    assert aws.calls["ecs:UpdateService"] == 1
    assert aws.mutating_calls() == {"ecs:UpdateService": 1}


def test_clients_are_cached_per_service() -> None:
    aws = AwsClients(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    assert aws.client("ecs") is aws.client("ecs")
    assert aws.client("ecs") is not aws.client("rds")
