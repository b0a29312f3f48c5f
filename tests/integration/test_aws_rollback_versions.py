"""rollback.aws refuses, before changing anything, a release whose task definitions pin secret versions
Secrets Manager no longer keeps (their tasks could not start); moto server over HTTP."""

from __future__ import annotations

import pytest

from pmis_deploy.aws.rollback import refuse_missing_versions
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.aws.taskdefs import pinned_versions
from pmis_deploy.config import load_settings
from pmis_deploy.errors import NotFound
from pmis_deploy.release import ReleaseRecord

pytestmark = pytest.mark.integration

GONE = "0d2b6a1e-0000-4000-8000-00000000dead"


def test_a_target_pinning_a_deleted_version_is_refused(aws_endpoint: str) -> None:
    settings = load_settings("local", environ={"PMIS_AWS__ENDPOINT_URL": aws_endpoint}).settings
    sm = AwsClients.for_settings(settings).client("secretsmanager")
    arn = sm.create_secret(Name="pmis-local/rollback-test", SecretString="one")["ARN"]  # pragma: allowlist secret
    first = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    kept = next(iter(first))
    sm.put_secret_value(SecretId=arn, SecretString="two")  # pragma: allowlist secret
    described = {
        "containerDefinitions": [
            {"secrets": [{"name": "A", "valueFrom": f"{arn}:::{kept}"}, {"name": "B", "valueFrom": arn}]},
            {"secrets": [{"name": "C", "valueFrom": f"{arn}:password::"}]},
        ]
    }
    pins = set(pinned_versions(described))
    assert pins == {(arn, kept)}  # unpinned and JSON-key references are not pins
    target = ReleaseRecord(id="r-old", environment="local", cloud="aws", git_sha="a" * 40, tag="old")
    aws = AwsClients.for_settings(settings)
    refuse_missing_versions(aws, target, pins)  # the previous version is still kept (AWSPREVIOUS)

    with pytest.raises(NotFound, match=f"release r-old pins .*version {GONE}") as caught:
        refuse_missing_versions(aws, target, pins | {(arn, GONE)})
    assert caught.value.hint is not None and "--to" in caught.value.hint
    assert aws.mutating_calls() == {}
