"""The health check of a private Cloud Run api: the real gcloud mints an ID token for the service's URL
(a service-account key whose token_uri is the fake's OAuth endpoint), and the request carries it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pmis_deploy.emulators.gcp.apis.oauth2 import decode_jwt
from pmis_deploy.errors import ReleaseFailed
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.deploy import health_headers
from pmis_deploy.gcp.errors import NoIdentityToken
from pmis_deploy.gcp.identity import id_token
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.health import wait_healthy
from pmis_deploy.redaction import redact
from pmis_deploy.shell import Runner

pytestmark = [pytest.mark.integration, pytest.mark.gcloud, pytest.mark.timeout(300)]

DEPLOYER = "deployer@pmis-local.iam.gserviceaccount.com"


def _gcloud(env: dict[str, str]) -> Gcloud:
    return Gcloud("pmis-local", "us-central1", runner=Runner(echo=False), env=env)


@pytest.fixture(scope="module")
def service_account_env(gcp_fake: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """gcloud pointed at the fake with an activated service-account key (no access-token file)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    root = tmp_path_factory.mktemp("sa")
    env = gcp_fake.env(root / "gcloud-config")
    del env["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"]
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = root / "key.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "pmis-local",
                "private_key_id": "k1",
                "private_key": pem.decode(),
                "client_email": DEPLOYER,
                "client_id": "1",
                "token_uri": f"{gcp_fake.url}/oauth2/token",
            }
        )
    )
    key.chmod(0o600)
    Runner(echo=False).run(["gcloud", "auth", "activate-service-account", f"--key-file={key}"], env=env)
    return env


class _PrivateService(BaseHTTPRequestHandler):
    """Cloud Run's front end for a service without allUsers: 403 unless an ID token for its URL."""

    audience = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        ok = auth.startswith("Bearer ") and decode_jwt(auth[7:]).get("aud") == self.audience
        body = json.dumps({"status": "ok"} if ok else {"reason": "Forbidden"}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def private_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PrivateService)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _PrivateService.audience = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


def test_service_account_gets_a_token_for_the_audience(service_account_env: dict[str, str]) -> None:
    token = id_token(_gcloud(service_account_env), "https://pmis-local-api-abc-uc.a.run.app")
    claims = decode_jwt(token)
    assert claims["aud"] == "https://pmis-local-api-abc-uc.a.run.app"
    assert claims["email"] == DEPLOYER
    assert redact(f"token {token}") == "token ***"  # registered before anything could print it


def test_private_api_health_check_sends_the_token(service_account_env: dict[str, str], private_service: str) -> None:
    from pmis_deploy.config import load_settings

    settings = load_settings("local").settings.model_copy(deep=True)
    service = {"status": {"url": private_service}}
    public = Ctx(_gcloud(service_account_env), settings, GcpNames.of(settings))
    assert health_headers(public, service) == {}
    assert public.gcloud.invocations == 0
    with pytest.raises(ReleaseFailed, match=r"HTTP 403.*run.invoker"):
        wait_healthy(private_service, "/health", timeout=1, interval=0.2)

    settings.gcp.allow_unauthenticated_api = False
    private = Ctx(_gcloud(service_account_env), settings, GcpNames.of(settings))
    headers = health_headers(private, service)
    assert list(private.gcloud.calls) == ["auth print-identity-token"]
    assert wait_healthy(private_service, "/health", timeout=5, headers=headers) == {"status": "ok"}


def test_access_token_only_credentials_say_how_to_get_one(gcloud_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(NoIdentityToken) as caught:
        id_token(_gcloud(gcloud_env), "https://pmis-local-api-abc-uc.a.run.app")
    assert "No identity token can be obtained" in caught.value.stderr_tail
    assert caught.value.hint is not None and "impersonate_service_account" in caught.value.hint
