"""checks.images: hadolint for real on small Dockerfiles; trivy parsing; trivy missing → UNAVAILABLE."""

from __future__ import annotations

import stat

from pmis_deploy.checks import images
from pmis_deploy.checks.outcome import Outcome
from pmis_deploy.checks.settings import LintLevel
from tests.fixtures.checks import DATA

GOOD = """FROM python:3.11.9-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
USER 1000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""
BAD = """FROM python:3.11
RUN pip install fastapi
CMD uvicorn app:app
"""


def tree(root, api=GOOD, worker=GOOD):
    for app, text in (("api", api), ("worker", worker)):
        (root / "apps" / app).mkdir(parents=True, exist_ok=True)
        (root / "apps" / app / "Dockerfile").write_text(text)
    return root


def no_trivy(real=images.find_tool):
    return lambda name: None if name == "trivy" else real(name)


def test_missing_trivy_is_unavailable_with_how_to_install(check_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "find_tool", no_trivy())
    verdict = images.check(check_ctx(tree(tmp_path)))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "hadolint (2 Dockerfiles): PASS" in verdict.details
    assert "trivy config + image: UNAVAILABLE (trivy is not installed: install trivy: https://" in verdict.details


def test_hadolint_findings_fail_even_without_trivy(check_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "find_tool", no_trivy())
    verdict = images.check(check_ctx(tree(tmp_path, worker=BAD)))
    assert verdict.outcome is Outcome.FAIL
    codes = {(f.location, f.message.split()[0]) for f in verdict.findings}
    assert ("apps/worker/Dockerfile:2", "DL3013") in codes
    assert ("apps/worker/Dockerfile:3", "DL3025") in codes
    assert all(f.location.startswith("apps/worker/") for f in verdict.findings)


def test_hadolint_threshold(tmp_path):
    out = '[{"code":"DL3009","file":"Dockerfile","level":"info","line":2,"message":"Delete the apt lists"}]'
    assert images.parse_hadolint("h", out, "", 0, LintLevel.warning).outcome is Outcome.PASS
    assert images.parse_hadolint("h", out, "", 0, LintLevel.info).outcome is Outcome.FAIL


def test_no_dockerfiles_fails(check_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "find_tool", no_trivy())
    assert images.check(check_ctx(tmp_path)).outcome is Outcome.FAIL


def test_trivy_image_report_threshold():
    text = (DATA / "trivy-image-vulnerable.json").read_text()
    sub = images.parse_trivy("t", text, "", 0, "HIGH")
    assert sub.outcome is Outcome.FAIL
    assert [f.message for f in sub.findings] == ["CVE-2023-4911 (fixed in 2.36-9+deb12u3)"]
    assert images.parse_trivy("t", text, "", 0, "CRITICAL").outcome is Outcome.PASS


def test_trivy_config_report_names_line():
    sub = images.parse_trivy("t", (DATA / "trivy-config-dockerfile.json").read_text(), "", 0, "MEDIUM")
    assert [str(f) for f in sub.findings] == ["[HIGH] Dockerfile:1: DS002 Image user should not be 'root'"]


def test_trivy_without_its_database_is_unavailable():
    err = "FATAL init error: DB error: failed to download vulnerability DB: dial tcp: lookup ghcr.io: no such host"
    assert images.parse_trivy("t", "", err, 1, "HIGH").outcome is Outcome.UNAVAILABLE


def test_with_trivy_images_are_scanned_by_digest(check_ctx, tmp_path, monkeypatch):
    trivy = tmp_path / "trivy"
    trivy.write_text(
        "#!/bin/sh\n"
        f'case "$1" in image) cat "{DATA / "trivy-image-vulnerable.json"}";; '
        '*) echo \'{"SchemaVersion": 2, "Results": []}\';; esac\n'
    )
    trivy.chmod(trivy.stat().st_mode | stat.S_IXUSR)
    real = images.find_tool
    monkeypatch.setattr(images, "find_tool", lambda name: str(trivy) if name == "trivy" else real(name))
    digest = "sha256:" + "a" * 64
    ctx = check_ctx(tree(tmp_path / "t"), images={"api": f"reg/pmis/api@{digest}", "web": "reg/pmis/web:latest"})
    verdict = images.check(ctx)
    assert verdict.outcome is Outcome.FAIL
    assert "trivy config apps/api/Dockerfile: PASS" in verdict.details
    assert "trivy image api: FAIL" in verdict.details
    assert "trivy image web: FAIL (reg/pmis/web:latest is not pinned by digest" in verdict.details
    # without images for the release the image scan is UNAVAILABLE, not a pass
    assert images.check(check_ctx(tree(tmp_path / "t"))).outcome is Outcome.UNAVAILABLE


def test_offline_skips_trivy_but_still_lints(check_ctx, tmp_path):
    verdict = images.check(check_ctx(tree(tmp_path), checks={"offline": True}))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "hadolint (2 Dockerfiles): PASS" in verdict.details
    assert "checks.offline is set" in verdict.details


def test_a_deferred_image_scan_is_left_out_and_said_so(check_ctx, tmp_path, monkeypatch):
    trivy = tmp_path / "trivy"
    trivy.write_text('#!/bin/sh\necho \'{"SchemaVersion": 2, "Results": []}\'\n')
    trivy.chmod(trivy.stat().st_mode | stat.S_IXUSR)
    real = images.find_tool
    monkeypatch.setattr(images, "find_tool", lambda name: str(trivy) if name == "trivy" else real(name))
    ctx = check_ctx(tree(tmp_path / "t"))
    ctx.defer_image_scan = True
    verdict = images.check(ctx)
    assert verdict.outcome is Outcome.PASS, verdict.details
    assert verdict.details.startswith("trivy image: deferred")
    assert "trivy config apps/worker/Dockerfile: PASS" in verdict.details
