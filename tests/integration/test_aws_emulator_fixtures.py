"""The shared AWS fixtures: a wiped emulator per test, credentials and endpoint in the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_endpoint_environment_and_reset(aws_endpoint: str) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == aws_endpoint
    ecs = boto3.client("ecs")  # endpoint, region and credentials all come from the environment
    ecs.create_cluster(clusterName="one")
    assert ecs.list_clusters()["clusterArns"][0].endswith("/one")


def test_each_test_starts_empty(aws_endpoint: str) -> None:
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []


def test_knobs_set_and_reset(aws_knobs: Callable[..., dict[str, Any]], aws_endpoint: str) -> None:
    from pmis_deploy.emulators.aws import reset

    assert aws_knobs(rollout_polls=5, fail_images=[":bad"])["rollout_polls"] == 5
    reset(aws_endpoint)
    assert aws_knobs()["rollout_polls"] == 2
    assert aws_knobs()["fail_images"] == []


def test_unknown_knob_is_refused(aws_knobs: Callable[..., dict[str, Any]]) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as caught:
        aws_knobs(rollout_pols=1)
    assert caught.value.code == 400
