"""Benchmark: wall time and AWS API calls of `deploy.aws` against the embedded emulator.

    .venv/bin/python benchmarks/aws_deploy.py [--json]

Starts an in-process embedded AWS (extended moto server) and a throwaway PostgreSQL, then runs in the
`local` environment: a full provision + deploy from nothing, and a no-op re-deploy of the same tag
(the real api migration and health check run as local processes). Prints per run the wall time, the
per-step timings, the AWS API calls by service (mutating ones separately), and `inv --list` time.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmis_deploy.aws.deploy import DeployRequest, deploy  # noqa: E402
from pmis_deploy.aws.session import AwsClients  # noqa: E402
from pmis_deploy.config import load_settings  # noqa: E402
from pmis_deploy.emulators.aws import embedded_server  # noqa: E402
from pmis_deploy.emulators.postgres import PostgresCluster  # noqa: E402

TAG = "bench0000001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_service(calls: Counter[str]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for name, n in calls.items():
        out[name.split(":", 1)[0]] += n
    return dict(sorted(out.items()))


def measure(label: str, loaded: Any) -> dict[str, Any]:
    aws = AwsClients.for_settings(loaded.settings)
    started = time.monotonic()
    record, _ = deploy(loaded, DeployRequest(tag=TAG, skip_checks="benchmark"), aws=aws)
    wall = time.monotonic() - started
    mutating = aws.mutating_calls()
    return {
        "run": label,
        "wall_seconds": round(wall, 2),
        "status": record.status.value,
        "changes": len(record.changes),
        "api_calls": sum(aws.calls.values()),
        "calls_by_service": by_service(aws.calls),
        "mutating_calls": sum(mutating.values()),
        "mutating_outside_state_bucket": {k: v for k, v in mutating.items() if not k.startswith("s3:")},
        "steps": {k: v for k, v in record.timings.items() if k != "total"},
    }


def inv_list_seconds() -> float:
    started = time.monotonic()
    subprocess.run([str(ROOT / ".venv" / "bin" / "inv"), "--list"], cwd=ROOT, capture_output=True, check=True)
    return round(time.monotonic() - started, 2)


def main() -> int:
    as_json = "--json" in sys.argv
    with tempfile.TemporaryDirectory(prefix="pmis-bench-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres user must reach its cluster directory
        pg = PostgresCluster(Path(tmp) / "pg", free_port())
        pg.ensure_running()
        try:
            pg.create_database("pmis")
            with embedded_server() as url:
                environ = {
                    "PMIS_AWS__ENDPOINT_URL": url,
                    "PMIS_LOCAL__DATABASE_URL": pg.url("pmis"),
                    "PMIS_LOCAL__API_PORT": str(free_port()),
                    "PMIS_LOCAL__STATE_DIR": str(Path(tmp) / "state"),
                    "PMIS_LOG_LEVEL": "warning",
                }
                loaded = load_settings("local", root=ROOT, environ=environ)
                results = [measure("full provision + deploy", loaded), measure("no-op re-deploy", loaded)]
        finally:
            pg.stop()
    listing = inv_list_seconds()
    if as_json:
        print(json.dumps({"runs": results, "inv_list_seconds": listing}, indent=2))
        return 0
    for r in results:
        print(f"\n== {r['run']}: {r['wall_seconds']} s, {r['status']}, {r['changes']} change(s)")
        print(
            f"   AWS API calls: {r['api_calls']} ({r['mutating_calls']} mutating; outside the state bucket: "
            f"{sum(r['mutating_outside_state_bucket'].values())})"
        )
        print("   by service: " + ", ".join(f"{k} {v}" for k, v in r["calls_by_service"].items()))
        print("   steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["steps"].items()))
    print(f"\ninv --list: {listing} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
