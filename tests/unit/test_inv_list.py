"""`inv --list`: every task has one-line help, and listing imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "sqlalchemy", "fastapi", "rich", "moto", "alembic", "celery", "pydantic")


def _list(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    )


def test_inv_list_imports_no_heavy_library() -> None:
    proc = _list("-X", "importtime")
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert imported, "importtime produced no output"
    assert not imported & set(HEAVY), f"inv --list imported {sorted(imported & set(HEAVY))}"


def test_every_task_has_help() -> None:
    out = _list().stdout
    tasks = [line for line in out.splitlines()[2:] if line.strip() and not line.startswith(" " * 10)]
    assert any(t.strip().startswith("config.show") for t in tasks)
    missing = [t.split()[0] for t in tasks if len(t.split()) < 2]
    assert not missing, f"tasks without a docstring: {missing}"
