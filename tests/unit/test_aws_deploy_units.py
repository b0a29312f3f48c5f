"""Units of the AWS release flow: describe-first services, rollout waiting, rollback targets, ECR login."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pmis_deploy import images
from pmis_deploy.aws import ecr, rollout
from pmis_deploy.aws.rollback import choose_target
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.config import Settings, load_settings
from pmis_deploy.errors import LockHeldError, NotFound
from pmis_deploy.history import unlock
from pmis_deploy.redaction import redact
from pmis_deploy.release import LockInfo, ReleaseRecord, ReleaseStatus, utcnow
from tests.unit.test_pipeline import MemoryBackend
from tests.unit.test_taskdefs import make_infra

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/pmis-staging-{}:{}"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings("staging", environ={}).settings


def ecs_client() -> Any:
    return boto3.session.Session().client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def service(name: str, taskdef: str, deployments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "serviceName": name,
        "status": "ACTIVE",
        "taskDefinition": taskdef,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "deployments": deployments or [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}],
        "events": [],
    }


def test_an_active_service_is_updated_never_created_again(settings: Settings) -> None:
    ecs = ecs_client()
    stub = Stubber(ecs)
    stub.add_response(
        "describe_services",
        {"services": [service("pmis-staging-api", TD.format("api", 1))], "failures": []},
        {"cluster": "pmis-staging", "services": ["pmis-staging-api"]},
    )
    stub.add_response(
        "update_service",
        {"service": service("pmis-staging-api", TD.format("api", 2), [{"id": "ecs-svc/2", "status": "PRIMARY"}])},
        {
            "cluster": "pmis-staging",
            "service": "pmis-staging-api",
            "taskDefinition": TD.format("api", 2),
            "deploymentConfiguration": rollout.DEPLOYMENT_CONFIG,
            "networkConfiguration": ANY,
            "enableExecuteCommand": True,
            "forceNewDeployment": False,
            "healthCheckGracePeriodSeconds": 60,
        },
    )
    with stub:  # a create_service call would fail: no response is queued for it
        actions = rollout.plan_services(ecs, settings, make_infra(), {"api": TD.format("api", 2)})
        assert [a.action for a in actions] == ["update"]
        assert rollout.apply(ecs, actions) == {"pmis-staging-api": "ecs-svc/2"}
    stub.assert_no_pending_responses()


def test_a_missing_or_inactive_service_is_created_with_the_circuit_breaker(settings: Settings) -> None:
    ecs = ecs_client()
    stub = Stubber(ecs)
    inactive = dict(service("pmis-staging-web", TD.format("web", 1)), status="INACTIVE")
    stub.add_response(
        "describe_services",
        {"services": [inactive], "failures": [{"arn": "pmis-staging-worker", "reason": "MISSING"}]},
    )
    with stub:
        actions = rollout.plan_services(
            ecs, settings, make_infra(), {"worker": TD.format("worker", 1), "web": TD.format("web", 1)}
        )
    assert [(a.workload, a.action) for a in actions] == [("worker", "create"), ("web", "create")]
    web = actions[1].request
    assert web["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert web["loadBalancers"][0]["containerPort"] == 3000 and web["launchType"] == "FARGATE"
    assert "loadBalancers" not in actions[0].request


class ScriptedEcs:
    """describe_services answers from a script (one entry per poll); stopped tasks on demand."""

    def __init__(self, polls: list[dict[str, Any]], stopped: list[dict[str, Any]] | None = None) -> None:
        self.polls = polls
        self.stopped = stopped or []

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {"services": [self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]]}

    def list_tasks(self, **_: Any) -> dict[str, Any]:
        return {"taskArns": [t["taskArn"] for t in self.stopped]}

    def describe_tasks(self, **_: Any) -> dict[str, Any]:
        return {"tasks": self.stopped}


def deploying(state: str, **extra: Any) -> dict[str, Any]:
    return service(
        "pmis-staging-api",
        TD.format("api", 2),
        [{"id": "d-new", "status": "PRIMARY", "rolloutState": state, **extra}, {"id": "d-old", "status": "ACTIVE"}],
    )


def test_wait_returns_only_at_completed() -> None:
    lines: list[str] = []
    ecs = ScriptedEcs([deploying("IN_PROGRESS"), deploying("IN_PROGRESS"), deploying("COMPLETED")])
    rollout.wait(ecs, "c", {"pmis-staging-api": "d-new"}, timeout=5, poll=0, show=lines.append)
    assert ecs.polls == [deploying("COMPLETED")] and "COMPLETED" in lines[-1]


def test_wait_fails_on_failed_or_replaced_deployments() -> None:
    failed = ScriptedEcs([deploying("FAILED", rolloutStateReason="circuit breaker: tasks failed to start")])
    with pytest.raises(rollout.RolloutFailed, match="FAILED: circuit breaker"):
        rollout.wait(failed, "c", {"pmis-staging-api": "d-new"}, timeout=5, poll=0, show=lambda s: None)
    replaced = ScriptedEcs([service("pmis-staging-api", TD.format("api", 1))])  # breaker rolled back
    with pytest.raises(rollout.RolloutFailed, match="replaced"):
        rollout.wait(replaced, "c", {"pmis-staging-api": "d-new"}, timeout=5, poll=0, show=lambda s: None)
    slow = ScriptedEcs([deploying("IN_PROGRESS")])
    with pytest.raises(rollout.RolloutFailed, match="timed out"):
        rollout.wait(slow, "c", {"pmis-staging-api": "d-new"}, timeout=0.05, poll=0.01, show=lambda s: None)


def test_wait_fails_fast_on_a_task_that_cannot_start() -> None:
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:1:task/c/abc",
        "taskDefinitionArn": TD.format("api", 2),
        "stoppedAt": dt.datetime.now(dt.UTC),
        "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 times",
        "containers": [{"name": "api", "exitCode": None}],
    }
    shown: list[str] = []
    ecs = ScriptedEcs([deploying("IN_PROGRESS")], stopped=[task])
    with pytest.raises(rollout.RolloutFailed, match="cannot start: CannotPullContainerError"):
        rollout.wait(ecs, "c", {"pmis-staging-api": "d-new"}, timeout=60, poll=0, show=shown.append)
    assert any("stopped: CannotPullContainerError" in s for s in shown)


def record(rid: str, status: ReleaseStatus, api_rev: int) -> ReleaseRecord:
    return ReleaseRecord(
        id=rid, environment="staging", cloud="aws", git_sha="a" * 40, tag=rid[-4:], status=status,
        services={"api": TD.format("api", api_rev), "web": TD.format("web", 1)},
    )  # fmt: skip


def test_rollback_target_is_the_newest_good_release_that_differs() -> None:
    backend = MemoryBackend()
    for r in (
        record("20260101T000000Z-0001", ReleaseStatus.succeeded, 1),
        record("20260102T000000Z-0002", ReleaseStatus.succeeded, 5),  # the debug revisions 2-4 never shipped
        record("20260103T000000Z-0003", ReleaseStatus.failed, 6),
        record("20260104T000000Z-0004", ReleaseStatus.succeeded, 7),
        record("20260105T000000Z-0005", ReleaseStatus.succeeded, 7),  # a no-op re-deploy of 0004
    ):
        backend.records[r.id] = r
    running = {"api": TD.format("api", 7), "web": TD.format("web", 1)}
    assert choose_target(backend, None, running).id == "20260102T000000Z-0002"  # revision 5, not 6
    assert choose_target(backend, "20260101T000000Z-0001", running).services["api"].endswith(":1")
    with pytest.raises(NotFound, match="only a good release"):
        choose_target(backend, "20260103T000000Z-0003", running)
    with pytest.raises(NotFound, match="known releases"):
        choose_target(backend, "nope", running)


def test_unlock_breaks_only_stale_locks_unless_forced(settings: Settings) -> None:
    backend = MemoryBackend()
    backend.lock = LockInfo(holder="dave@laptop")
    with pytest.raises(LockHeldError, match="not stale"):
        unlock(backend, settings, force=False)
    assert unlock(backend, settings, force=True).holder == "dave@laptop"  # type: ignore[union-attr]
    backend.lock = LockInfo(holder="old", acquired_at=utcnow() - dt.timedelta(days=1))
    assert unlock(backend, settings, force=False).holder == "old"  # type: ignore[union-attr]
    assert backend.lock is None and unlock(backend, settings, force=False) is None


def test_ecr_login_token_is_decoded_and_redacted() -> None:
    aws = AwsClients(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    stub = Stubber(aws.client("ecr"))
    token = base64.b64encode(b"AWS:s3cr3t-ecr-password-value").decode()
    stub.add_response(
        "get_authorization_token",
        {
            "authorizationData": [
                {"authorizationToken": token, "proxyEndpoint": "https://1.dkr.ecr.us-east-1.amazonaws.com"}
            ]
        },
    )
    with stub:
        creds = ecr.credentials(aws)
    assert (creds.registry, creds.username) == ("1.dkr.ecr.us-east-1.amazonaws.com", "AWS")
    assert redact(f"login with {creds.password}") == "login with ***"


def test_image_refs_never_claim_a_digest_they_do_not_have(tmp_path: Any) -> None:
    unbuilt = images.ImageRef("api", "r.example/pmis/api", "0123456789ab")
    assert unbuilt.reference == "r.example/pmis/api:0123456789ab"
    assert unbuilt.recorded.endswith("(unbuilt)")
    pushed = images.ImageRef("api", "r.example/pmis/api", "0123456789ab", "sha256:" + "c" * 64, built=True, pushed=True)
    assert pushed.reference == "r.example/pmis/api@sha256:" + "c" * 64 == pushed.recorded
    with pytest.raises(images.ImageError):
        images.ImageRef("api", "r", "t", digest="sha256:short")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM --platform=linux/amd64 python:3.11-slim AS build\nFROM build\nFROM scratch\n")
    assert images.base_images(dockerfile) == ["python:3.11-slim"]
