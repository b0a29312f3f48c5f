"""The embedded AWS's knobs, control API, scoping of the extension, and the pure rules it follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from pmis_deploy.emulators import aws_control
from pmis_deploy.emulators.aws_control import ControlApp, Knobs


@pytest.fixture(autouse=True)
def _default_knobs() -> Iterator[None]:
    aws_control.reset_knobs()
    yield
    aws_control.reset_knobs()


def test_knobs_are_type_checked() -> None:
    knobs = Knobs()
    knobs.update({"rollout_polls": 3, "rollout_seconds": 1, "fail_images": ":bad"})
    assert (knobs.rollout_polls, knobs.rollout_seconds, knobs.fail_images) == (3, 1.0, [":bad"])
    for bad in ({"rollout_pols": 1}, {"rollout_polls": -1}, {"exit_code": True}, {"fail_images": [1]}):
        with pytest.raises(ValueError):
            Knobs().update(bad)


def test_knobs_from_environment() -> None:
    aws_control.knobs_from_environment({"PMIS_EMULATOR_KNOBS": '{"rollout_polls": 5, "exit_code": 4}'})
    assert (aws_control.KNOBS.rollout_polls, aws_control.KNOBS.exit_code) == (5, 4)


def _inner(environ: dict[str, Any], start_response: Any) -> Any:
    return Response(f"moto saw {environ['PATH_INFO']}")(environ, start_response)


def test_control_api_routes() -> None:
    client = Client(ControlApp(_inner, resources=lambda: {"ecs_services": 2}))
    info = client.get("/pmis-emulator/").get_json()
    assert info["emulator"] == "pmis-aws" and info["resources"] == {"ecs_services": 2}
    assert client.post("/pmis-emulator/knobs", json={"rollout_polls": 7}).get_json()["rollout_polls"] == 7
    assert client.get("/pmis-emulator/knobs").get_json()["rollout_polls"] == 7
    bad = client.post("/pmis-emulator/knobs", json={"nope": 1})
    assert bad.status_code == 400 and "unknown knob 'nope'" in bad.get_json()["error"]
    assert client.post("/pmis-emulator/knobs", data="[1]").status_code == 400
    assert client.get("/pmis-emulator/other").status_code == 404
    assert client.delete("/pmis-emulator/knobs").get_json()["rollout_polls"] == 2


def test_moto_reset_also_resets_knobs_and_reaches_moto() -> None:
    client = Client(ControlApp(_inner))
    aws_control.set_knobs(exit_code=9)
    response = client.post("/moto-api/reset")
    assert response.get_data(as_text=True) == "moto saw /moto-api/reset"
    assert aws_control.KNOBS.exit_code == 0


def test_requests_are_served_with_the_extension_on() -> None:
    seen = []

    def inner(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(aws_control.serving())
        return _inner(environ, start_response)

    assert not aws_control.serving()
    Client(ControlApp(inner)).get("/")
    assert seen == [True] and not aws_control.serving()


# ---- the ECS rules -----------------------------------------------------------------------------------------


def _task_definition(image: str = "repo/api:1", **environment: str) -> Any:
    env = [{"name": k, "value": v} for k, v in environment.items()]
    return SimpleNamespace(container_definitions=[{"name": "api", "image": image, "environment": env}])


def test_failure_markers() -> None:
    from pmis_deploy.emulators.aws_ecs import task_definition_fails

    assert not task_definition_fails(_task_definition())
    assert task_definition_fails(_task_definition(PMIS_EMULATOR_FAIL="1"))
    assert not task_definition_fails(_task_definition(PMIS_EMULATOR_FAIL="0"))
    aws_control.set_knobs(fail_images=[":broken"])
    assert task_definition_fails(_task_definition("repo/api:broken"))


def test_one_off_exit_code_precedence() -> None:
    from pmis_deploy.emulators.aws_ecs import one_off_exit_code

    override = {
        "containerOverrides": [{"name": "api", "environment": [{"name": "PMIS_EMULATOR_EXIT_CODE", "value": "5"}]}]
    }
    other = {
        "containerOverrides": [{"name": "sidecar", "environment": [{"name": "PMIS_EMULATOR_EXIT_CODE", "value": "5"}]}]
    }
    assert one_off_exit_code(_task_definition(), None) == 0
    assert one_off_exit_code(_task_definition(), override) == 5
    assert one_off_exit_code(_task_definition(), other) == 0
    assert one_off_exit_code(_task_definition(PMIS_EMULATOR_EXIT_CODE="4"), None) == 4
    assert one_off_exit_code(_task_definition(PMIS_EMULATOR_EXIT_CODE="4"), override) == 5
    assert one_off_exit_code(_task_definition(PMIS_EMULATOR_FAIL="1"), None) == 1
    aws_control.set_knobs(exit_code=2)
    assert one_off_exit_code(_task_definition(), None) == 2


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (2, 3), (10, 5), (1000, 200)])
def test_circuit_breaker_threshold_is_ecs_formula(desired: int, threshold: int) -> None:
    from pmis_deploy.emulators.aws_ecs import failure_threshold

    assert failure_threshold(desired) == threshold


def test_extension_applies_only_while_emulating() -> None:
    """Plain moto users in the same process (mock_aws) keep plain moto after the emulator ran."""
    import boto3
    from moto import mock_aws

    from pmis_deploy.emulators import aws_ecs

    aws_ecs.install()
    with mock_aws():
        ecs: Any = boto3.client("ecs", region_name="us-east-1")
        ecs.create_cluster(clusterName="c")
        arn = ecs.register_task_definition(
            family="f", containerDefinitions=[{"name": "a", "image": "i", "memory": 64}]
        )["taskDefinition"]["taskDefinitionArn"]
        breaker: dict[str, Any] = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        plain = ecs.create_service(cluster="c", serviceName="p", taskDefinition=arn, desiredCount=1)["service"]
        with aws_control.emulating():
            extended = ecs.create_service(
                cluster="c", serviceName="e", taskDefinition=arn, desiredCount=1, deploymentConfiguration=breaker
            )["service"]
            with pytest.raises(ecs.exceptions.InvalidParameterException):
                ecs.create_service(cluster="c", serviceName="e", taskDefinition=arn, desiredCount=1)
    assert "deploymentConfiguration" not in plain
    assert extended["deploymentConfiguration"]["deploymentCircuitBreaker"] == breaker["deploymentCircuitBreaker"]
    assert extended["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert json.dumps(extended, default=str)  # serialisable as boto3 returns it


def test_probe_answers_while_aws_requests_wait_for_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setattr(aws_control, "READY_WAIT_SECONDS", 0.01)
    ready = threading.Event()
    client = Client(ControlApp(_inner, ready=ready))
    assert client.get("/pmis-emulator/").status_code == 200
    assert client.post("/").status_code == 503
    ready.set()
    assert client.post("/").get_data(as_text=True) == "moto saw /"
