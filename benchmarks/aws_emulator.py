"""Benchmark: start-up of the embedded AWS emulator (detached and in-process).

    .venv/bin/python benchmarks/aws_emulator.py [--runs N] [--json]

Per run, in a temp state dir on a free port: the cold start of the detached server (`ensure_running`
until it answers), the CPU time the server spent getting there (from /proc, less sensitive to a busy
machine than wall time), the time until a first ECS call is answered (the ECS extension installs in
the background after the server answers), a warm `ensure_running` (finds the running one), and `stop`.
Then the in-process server of the tests (`embedded_server`): start until the first answer. Also prints
the load average, since wall times on a shared machine depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmis_deploy.config import LocalSettings, Settings  # noqa: E402
from pmis_deploy.emulators import aws  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def detached_run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(environment="local", local=LocalSettings(state_dir=state, aws_port=_free_port()))
        ecs = boto3.client(
            "ecs",
            endpoint_url=f"http://127.0.0.1:{settings.local.aws_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the emulator accepts any
        )
        started = time.monotonic()
        aws.ensure_running(settings)
        cold = time.monotonic() - started
        record = aws.server(settings).read_record()
        cpu = _cpu_seconds(record.pid) if record else None
        ecs.list_clusters()  # waits until the ECS extension is installed
        ecs_ready = time.monotonic() - started
        started = time.monotonic()
        aws.ensure_running(settings)
        warm = time.monotonic() - started
        started = time.monotonic()
        aws.stop(settings)
        stop = time.monotonic() - started
    return {
        "cold_start_s": round(cold, 2),
        "server_cpu_at_answer_s": cpu,
        "first_ecs_call_s": round(ecs_ready, 2),
        "warm_s": round(warm, 4),
        "stop_s": round(stop, 2),
    }


def in_process_run() -> float:
    started = time.monotonic()
    with aws.embedded_server() as url:
        urllib.request.urlopen(url + "/pmis-emulator/", timeout=30).read()  # noqa: S310 - loopback
        return round(time.monotonic() - started, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="detached cold starts to measure")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "load_average_before": os.getloadavg(),
        "detached": [detached_run() for _ in range(args.runs)],
        "in_process_first_answer_s": in_process_run(),
        "load_average_after": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"load average before {report['load_average_before']}, after {report['load_average_after']}")
        for n, run in enumerate(report["detached"], 1):
            print(f"detached run {n}: {run}")
        print(f"in-process start to first answer: {report['in_process_first_answer_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
