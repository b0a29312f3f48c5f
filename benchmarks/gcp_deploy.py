"""Benchmark: gcloud invocations and wall time of `deploy.gcp` against the embedded fake.

    .venv/bin/python benchmarks/gcp_deploy.py

Runs a full provision + deploy on an empty fake project, then a no-op re-deploy of the same tag, with
the real gcloud CLI, the real api migration and health check on a throwaway PostgreSQL. Prints, per
run: gcloud invocations (reads / mutating), summed gcloud time, wall time and their ratio (concurrency).
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmis_deploy.config import load_settings  # noqa: E402
from pmis_deploy.emulators.gcp import running_fake  # noqa: E402
from pmis_deploy.emulators.postgres import PostgresCluster  # noqa: E402
from pmis_deploy.gcp.context import Ctx  # noqa: E402
from pmis_deploy.gcp.deploy import deploy  # noqa: E402
from pmis_deploy.gcp.names import GcpNames  # noqa: E402
from pmis_deploy.gcp.runner import Gcloud  # noqa: E402
from pmis_deploy.shell import Runner  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(label: str, loaded: object, env: dict[str, str]) -> dict[str, object]:
    s = loaded.settings  # type: ignore[attr-defined]
    gcloud = Gcloud(s.gcp.project, s.gcp.region, runner=Runner(echo=False), env=env, embedded=True)
    ctx = Ctx(gcloud, s, GcpNames.of(s))
    started = time.monotonic()
    outcome = deploy(loaded, tag="bench1", skip_gate="benchmark", ctx=ctx)  # type: ignore[arg-type]
    wall = time.monotonic() - started
    reads = sum(1 for _, read_only, _ in gcloud.log if read_only)
    busy = sum(seconds for _, _, seconds in gcloud.log)
    return {
        "run": label,
        "gcloud": gcloud.invocations,
        "reads": reads,
        "mutating": gcloud.invocations - reads,
        "gcloud seconds (sum)": round(busy, 1),
        "wall seconds": round(wall, 1),
        "parallelism": round(busy / wall, 2) if wall else 0.0,
        "result": "no changes" if outcome.record is None else outcome.record.status.value,
    }


def main() -> int:
    if shutil.which("gcloud") is None:
        print("gcloud CLI not installed: nothing to measure")
        return 1
    base = Path(tempfile.mkdtemp(prefix="pmis-bench-pg-"))
    cluster = PostgresCluster(base, free_port())
    try:
        cluster.ensure_running()
        cluster.create_database("bench")
        environ = {
            "PMIS_LOCAL__DATABASE_URL": cluster.url("bench"),
            "PMIS_LOCAL__API_PORT": str(free_port()),
            "AZURE_OPENAI_API_KEY": "benchmark-placeholder-key",
        }
        loaded = load_settings("local", environ=environ, root=ROOT)
        with running_fake() as fake, tempfile.TemporaryDirectory() as cfg:
            env = dict(fake.env(cfg))
            rows = [measure("full provision + deploy", loaded, env), measure("no-op re-deploy", loaded, env)]
            requests = len(fake.requests())
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(f"(fake served {requests} HTTP requests in total)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
