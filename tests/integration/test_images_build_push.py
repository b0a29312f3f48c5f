"""Images for real: buildah builds a FROM-scratch image, pushes it to a loopback registry, and the digest
the registry confirmed is what the registered task definition pins."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from pmis_deploy import images
from pmis_deploy.aws import taskdefs
from pmis_deploy.config import load_settings
from pmis_deploy.errors import DeployError
from pmis_deploy.shell import Runner

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ctx = tmp_path_factory.mktemp("ctx")
    (ctx / "hello.txt").write_text("pmis image test\n")
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (ctx / "Dockerfile.slim").write_text("FROM python:3.11-slim AS base\nFROM base\nCOPY hello.txt /\n")
    return ctx


def test_engine_falls_back_to_buildah_without_a_docker_engine(buildah_storage: Path) -> None:
    engine = images.detect_engine(Runner(echo=False), buildah_storage)
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False) if shutil.which("docker") else None
    assert engine.kind == ("docker" if probe is not None and probe.returncode == 0 else "buildah")


def test_build_push_and_pin_the_digest_in_the_task_definition(
    registry: str, buildah_storage: Path, context: Path, aws_endpoint: str
) -> None:
    engine = images.Engine("buildah", Runner(echo=False), storage=buildah_storage)
    spec = images.ImageSpec("api", context, context / "Containerfile")
    built = images.build(engine, spec, f"{registry}/pmis-test/api", "0123456789ab")
    assert built.built and not built.pushed and built.digest is None
    assert built.reference == f"{registry}/pmis-test/api:0123456789ab"  # never claims a digest it lacks

    pushed = images.push(engine, built, credentials=images.Credentials(registry, "AWS", "not-a-real-token-123"))
    assert pushed.pushed and pushed.digest and images.DIGEST.fullmatch(pushed.digest)
    inspected = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{pushed.tagged}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert inspected["Digest"] == pushed.digest  # the registry's own manifest digest

    from tests.unit.test_taskdefs import make_infra

    settings = load_settings("staging", environ={}).settings
    request = taskdefs.build_task_definition(settings, make_infra(), "api", pushed.reference)
    ecs = boto3.client("ecs")
    arn, registered = taskdefs.register_if_changed(ecs, request)
    assert registered
    described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert described["containerDefinitions"][0]["image"] == f"{registry}/pmis-test/api@{pushed.digest}"
    assert taskdefs.register_if_changed(ecs, request) == (arn, False)  # same digest → same revision


def test_missing_base_image_is_detected_offline(buildah_storage: Path, context: Path) -> None:
    engine = images.Engine("buildah", Runner(echo=False), storage=buildah_storage)
    assert images.base_images(context / "Dockerfile.slim") == ["python:3.11-slim"]
    assert images.missing_bases(engine, context / "Dockerfile.slim") == ["python:3.11-slim"]
    assert images.missing_bases(engine, context / "Containerfile") == []


def test_latest_is_refused() -> None:
    with pytest.raises(images.ImageError, match="latest"):
        images.ImageRef("api", "r/api", "latest")


def test_source_version_refuses_a_dirty_tree_unless_allowed(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    runner = Runner(echo=False)
    sha, tag = images.source_version(runner, tmp_path, allow_dirty=False)
    assert len(sha) == 40 and tag == sha[:12]
    (tmp_path / "f").write_text("2")
    with pytest.raises(DeployError, match="uncommitted changes"):
        images.source_version(runner, tmp_path, allow_dirty=False)
    _, dirty = images.source_version(runner, tmp_path, allow_dirty=True)
    assert dirty.startswith(f"{sha[:12]}-dirty-")
