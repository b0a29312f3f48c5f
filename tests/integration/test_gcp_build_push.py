"""Building and pushing for Cloud Run: the access token comes from the real `gcloud auth
print-access-token` (against the fake), buildah logs in as `oauth2accesstoken` with it on stdin, and
pushes to a loopback registry standing in for Artifact Registry (the fake serves no registry); the web
image is built with the api URL as a build argument (G17)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pmis_deploy import images
from pmis_deploy.config import load_settings
from pmis_deploy.errors import GateFailed
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.deploy import Release, build_and_push, image_refs, images_step
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.pipeline import Run
from pmis_deploy.release import ReleaseRecord
from pmis_deploy.shell import Runner

pytestmark = [pytest.mark.integration, pytest.mark.gcloud, pytest.mark.timeout(600)]

API_URL = "https://pmis-staging-api-abc-uc.a.run.app"
REPO = Path(__file__).resolve().parents[2]


def _apps(root: Path) -> None:
    """FROM-scratch stand-ins for apps/<component> (the real bases cannot be pulled offline)."""
    for component in ("api", "worker", "web"):
        app = root / "apps" / component
        app.mkdir(parents=True)
        (app / "hello.txt").write_text(f"{component}\n")
        lines = ["FROM scratch", "COPY hello.txt /hello.txt"]
        if component == "web":
            lines += ["ARG NEXT_PUBLIC_API_URL", "LABEL pmis.api-url=${NEXT_PUBLIC_API_URL}"]
        (app / "Dockerfile").write_text("\n".join(lines) + "\n")


def _inspect(ref: str) -> dict[str, Any]:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True, text=True, check=True
    )
    return cast(dict[str, Any], json.loads(out.stdout))


@pytest.fixture
def release(
    gcloud_env: dict[str, str],
    registry: str,
    buildah_storage: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Release:
    """A staging release whose Artifact Registry is the loopback registry and whose apps are FROM scratch."""
    _apps(tmp_path)
    shutil.copytree(REPO / "config", tmp_path / "config")
    monkeypatch.setattr(GcpNames, "registry_host", property(lambda self: registry))
    monkeypatch.setattr(
        images, "detect_engine", lambda runner, state: images.Engine("buildah", runner, buildah_storage)
    )
    loaded = load_settings("staging", root=tmp_path)
    s = loaded.settings
    gcloud = Gcloud(s.gcp.project, s.gcp.region, runner=Runner(echo=True), env=gcloud_env)
    ctx = Ctx(gcloud, s, GcpNames.of(s))
    return Release(ctx, loaded, cast(Any, SimpleNamespace(tag="abc1234")), image_refs(ctx, "abc1234"))


def test_push_to_the_registry_with_gcloud_token_and_web_build_arg(
    release: Release, registry: str, gcloud_env: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    pushed = build_and_push(release, ("api", "worker"))
    pushed |= build_and_push(release, ("web",), {"NEXT_PUBLIC_API_URL": API_URL})

    assert release.ctx.gcloud.calls["auth print-access-token"] == 2
    for component, reference in pushed.items():
        repository, digest = reference.split("@")
        assert repository == f"{registry}/{release.settings.gcp.project}/{release.ctx.names.repository}/{component}"
        assert images.DIGEST.fullmatch(digest)
        assert _inspect(f"{repository}:abc1234")["Digest"] == digest  # the tag the release names
    assert _inspect(pushed["web"])["Labels"]["pmis.api-url"] == API_URL
    echoed = capfd.readouterr()
    assert "buildah" in echoed.err and "login --username oauth2accesstoken --password-stdin" in echoed.err
    token = Path(gcloud_env["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"]).read_text()
    assert token not in echoed.out + echoed.err  # the token went on stdin only
    assert "pmis.api-url" not in (_inspect(pushed["api"]).get("Labels") or {})  # only web gets the URL


def test_a_deferred_image_scan_runs_on_the_pushed_digests_before_anything_runs_them(release: Release) -> None:
    """The gate deferred the image scan; without trivy here the scan is UNAVAILABLE, which stops the
    release right after the push (before the migration job would run the api image)."""
    run = Run(ReleaseRecord(id="r1", environment="staging", cloud="gcp", git_sha="a" * 40, tag="abc1234"))
    run.deferred_checks = ("images",)
    with pytest.raises(GateFailed, match=r"images \((UNAVAILABLE|FAIL)\)"):
        images_step(release).run(run)
    assert set(run.record.images) == {"api", "worker"}  # pushed, then scanned by digest
    assert all(images.DIGEST.search(ref) for ref in run.record.images.values())
    assert run.record.checks["images"] in ("UNAVAILABLE", "FAIL")
