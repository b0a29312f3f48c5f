"""Benchmark: wall time and AWS API calls of `provision.aws` against the embedded emulator.

    .venv/bin/python benchmarks/aws_provision.py [--json]

Starts an in-process embedded AWS (extended moto server) and runs, in the `local` environment:
a dry-run from nothing, the first (creating) run, a second run (must make no mutating call) and a
dry-run of the converged environment. Prints per run the wall time, the number of changes and the API
calls by service (mutating ones separately). Note: the emulator shares this process (and its CPU).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmis_deploy.aws.provision import provision  # noqa: E402
from pmis_deploy.aws.session import AwsClients  # noqa: E402
from pmis_deploy.config import load_settings  # noqa: E402
from pmis_deploy.emulators.aws import embedded_server  # noqa: E402


def by_service(calls: Counter[str]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for name, n in calls.items():
        out[name.split(":", 1)[0]] += n
    return dict(sorted(out.items()))


def measure(label: str, settings: Any, *, dry_run: bool) -> dict[str, Any]:
    aws = AwsClients.for_settings(settings, dry_run=dry_run)
    started = time.monotonic()
    result = provision(aws, settings, dry_run=dry_run)
    return {
        "run": label,
        "wall_seconds": round(time.monotonic() - started, 2),
        "changes": len(result.changes),
        "api_calls": sum(aws.calls.values()),
        "mutating_calls": sum(aws.mutating_calls().values()),
        "calls_by_service": by_service(aws.calls),
    }


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows = []
    with embedded_server() as url:
        settings = load_settings("local", environ={}).settings
        settings.aws.endpoint_url = url
        settings.aws.waiter_delay_seconds = 1
        settings.secrets.azure_openai_api_key = None
        rows.append(measure("dry-run (empty account)", settings, dry_run=True))
        rows.append(measure("first run", settings, dry_run=False))
        rows.append(measure("second run", settings, dry_run=False))
        rows.append(measure("dry-run (converged)", settings, dry_run=True))
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(
            f"{row['run']:<26} {row['wall_seconds']:>6.2f}s  changes {row['changes']:>3}  "
            f"calls {row['api_calls']:>4} (mutating {row['mutating_calls']})  {row['calls_by_service']}"
        )


if __name__ == "__main__":
    main()
