"""deploy.aws in a pushing environment (staging settings, embedded AWS): buildah builds FROM-scratch images
for real, pushes them to a loopback registry (standing in for ECR: moto has no registry endpoint), and
the registry-confirmed digests are what the registered task definitions and running services pin."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pmis_deploy import images
from pmis_deploy.aws import deploy as deploy_module
from pmis_deploy.aws import ecr, naming
from pmis_deploy.aws.deploy import DeployRequest, deploy
from pmis_deploy.aws.infra import AwsInfra
from pmis_deploy.aws.session import AwsClients
from pmis_deploy.config import load_settings
from pmis_deploy.release import ReleaseStatus

pytestmark = pytest.mark.integration


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def alb() -> Iterator[str]:
    """Stands in for the ALB's /health (moto's load balancer DNS name resolves nowhere)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_staging_deploy_pushes_and_pins_registry_digests(
    aws_endpoint: str,
    registry: str,
    buildah_storage: Path,
    alb: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs = {}
    for service in ("api", "worker", "web"):
        ctx = tmp_path / service
        ctx.mkdir()
        (ctx / "hello.txt").write_text(f"{service}\n")
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
        specs[service] = images.ImageSpec(service, ctx, ctx / "Dockerfile")
    monkeypatch.setattr(deploy_module, "app_image_specs", lambda root: specs)
    monkeypatch.setattr(ecr, "repository_uri", lambda aws, s, svc, account: f"{registry}/{naming.repository(s, svc)}")
    monkeypatch.setattr(AwsInfra, "base_url", property(lambda self: alb))
    monkeypatch.setattr(
        images, "detect_engine", lambda runner, state: images.Engine("buildah", runner, buildah_storage)
    )

    loaded = load_settings("staging", environ={"PMIS_AWS__ENDPOINT_URL": aws_endpoint})
    aws = AwsClients.for_settings(loaded.settings)
    record, code = deploy(loaded, DeployRequest(skip_checks="integration test", allow_dirty=True), aws=aws)

    assert code == 0 and record.status is ReleaseStatus.succeeded
    assert aws.calls["api.ecr:GetAuthorizationToken"] == 1  # login through boto3's token, not a CLI
    ecs = aws.client("ecs")
    for service in ("api", "worker", "web"):
        pinned = record.images[service]
        repository, digest = pinned.split("@")
        assert repository == f"{registry}/pmis-staging/{service}" and images.DIGEST.fullmatch(digest)
        inspected = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{repository}:{record.tag}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert json.loads(inspected.stdout)["Digest"] == digest  # what the registry holds
    for workload, image in (("api", "api"), ("migrate", "api"), ("beat", "worker"), ("web", "web")):
        described = ecs.describe_task_definition(taskDefinition=naming.ecs_service(loaded.settings, workload))
        assert described["taskDefinition"]["containerDefinitions"][0]["image"] == record.images[image]
    assert record.urls["health"] == f"{alb}/health"
    assert any(c.startswith("image api: pushed ") for c in record.changes)
