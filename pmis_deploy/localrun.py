"""The api as real LOCAL processes, for the `local` environment's release flows (AWS and GCP emulated).

The migration runs exactly as the release's one-off task does in the cloud (`alembic upgrade head` in
apps/api with DATABASE_URL in the environment, never in argv), and the api runs under uvicorn so the
post-deploy health check hits the real /health.

    head = run_migration(url, Runner())                       # "0002"
    with api_process(url, 18000) as base_url:                 # http://127.0.0.1:18000
        wait_healthy(base_url)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pmis_deploy import db
from pmis_deploy.errors import CommandError, ReleaseFailed
from pmis_deploy.redaction import redact
from pmis_deploy.shell import Runner

MIGRATION_TIMEOUT = 600.0
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def run_migration(database_url: str, runner: Runner, *, root: Path | None = None) -> str:
    """Run `alembic upgrade head` for apps/api as a subprocess; return the head it reached."""
    url = db.normalise_url(database_url)  # registers the password for redaction
    heads = ",".join(sorted(db.script_directory(root).get_heads()))
    try:
        result = runner.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=db.api_dir(root),
            env={"DATABASE_URL": url},
            timeout=MIGRATION_TIMEOUT,
        )
    except CommandError as exc:
        raise ReleaseFailed(
            f"the migration failed (exit {exc.returncode}): alembic upgrade head\n{redact(exc.stderr_tail)}",
            hint="fix the migration or the database; the services were not changed",
        ) from None
    if result.skipped:  # dry-run: nothing ran
        return heads
    reached = ",".join(db.current_heads(url))
    if reached != heads:
        raise ReleaseFailed(f"the migration exited 0 but the database is at {reached or 'base'}, not {heads}")
    return reached


@contextmanager
def api_process(database_url: str, port: int, *, root: Path | None = None, log_level: str = "info") -> Iterator[str]:
    """Start the real api (uvicorn app.main:app on 127.0.0.1:port); yield its base URL; stop it on exit."""
    url = db.normalise_url(database_url)
    base = f"http://127.0.0.1:{port}"
    _require_free(port)  # otherwise /livez could be answered by whatever already listens there
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "local", "LOG_LEVEL": log_level, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile(mode="w+", prefix="pmis-api-") as log:
        # A long-running server cannot go through Runner.run (which waits for exit); argv is still a list.
        proc = subprocess.Popen(
            argv, cwd=db.api_dir(root), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_started(proc, base, log)
            yield base
        finally:
            _stop(proc)


def _wait_started(proc: subprocess.Popen[bytes], base: str, log: IO[str]) -> None:
    import requests

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ReleaseFailed(f"the api exited with code {proc.returncode} while starting:\n{_tail(log)}")
        try:
            if requests.get(base + "/livez", timeout=2).status_code == 200 and proc.poll() is None:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise ReleaseFailed(f"the api did not answer {base}/livez within {STARTUP_TIMEOUT:.0f}s:\n{_tail(log)}")


def _require_free(port: int) -> None:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ReleaseFailed(
                f"cannot start the api on 127.0.0.1:{port}: the port is in use",
                hint="stop what listens there, or choose another port (local.api_port)",
            ) from None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


def _tail(log: IO[str], lines: int = 20) -> str:
    log.seek(0)
    return redact("\n".join(log.read().strip().splitlines()[-lines:]))
