"""`python -m worker.jobs.check_overdue_tasks` as a real process: exit 0 with the count, 1 on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration
WORKER_DIR = Path(__file__).resolve().parents[1]


def _run(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "worker.jobs.check_overdue_tasks"],
        cwd=WORKER_DIR,  # like the image: only the worker package on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_job_marks_and_exits_zero(schema_url: str, package_id: str) -> None:
    engine = sa.create_engine(schema_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO tasks (package_id, title, due_date) VALUES (:p, 'old', '2020-01-01')"),
            {"p": package_id},
        )
    engine.dispose()
    done = _run(schema_url.replace("postgresql+psycopg", "postgresql"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"job": "check_overdue_tasks", "marked_overdue": 1}
    assert "marked 1 task(s) overdue" in done.stdout  # logs go to stdout


def test_job_exits_one_when_the_database_is_unreachable() -> None:
    failed = _run("postgresql://app:NotPrinted99@127.0.0.1:1/pmis")
    assert failed.returncode == 1
    assert "check_overdue_tasks failed: OperationalError" in failed.stdout
    assert "NotPrinted99" not in failed.stderr + failed.stdout
