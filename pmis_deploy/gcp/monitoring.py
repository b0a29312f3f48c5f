"""Cloud Monitoring (L4): one dashboard per environment (`--config-from-file`, updated in place when it
differs, found by displayName: never a duplicate) and alert policies, converged the same way."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Phases, change


def _chart(title: str, metric_filter: str, aligner: str = "ALIGN_RATE") -> dict[str, Any]:
    return {
        "title": title,
        "xyChart": {
            "dataSets": [
                {
                    "timeSeriesQuery": {
                        "timeSeriesFilter": {
                            "filter": metric_filter,
                            "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": aligner},
                        }
                    },
                    "plotType": "LINE",
                }
            ]
        },
    }


def dashboard(ctx: Ctx) -> dict[str, Any]:
    n = ctx.names
    run = 'resource.type="cloud_run_revision"'
    services = " OR ".join(f'resource.label.service_name="{n.service(s)}"' for s in ("api", "web", "worker"))
    return {
        "displayName": n.dashboard,
        "gridLayout": {
            "columns": "2",
            "widgets": [
                _chart("Requests", f'metric.type="run.googleapis.com/request_count" {run} ({services})'),
                _chart(
                    "Request latency (p95)",
                    f'metric.type="run.googleapis.com/request_latencies" {run} ({services})',
                    "ALIGN_PERCENTILE_95",
                ),
                _chart(
                    "Instances",
                    f'metric.type="run.googleapis.com/container/instance_count" {run} ({services})',
                    "ALIGN_MAX",
                ),
                _chart(
                    "Cloud SQL CPU",
                    f'metric.type="cloudsql.googleapis.com/database/cpu/utilization" '
                    f'resource.label.database_id="{n.project}:{n.sql_instance}"',
                    "ALIGN_MEAN",
                ),
                _chart(
                    "Redis memory",
                    'metric.type="redis.googleapis.com/stats/memory/usage_ratio" '
                    f'resource.label.instance_id="projects/{n.project}/locations/{n.region}/instances/{n.redis_instance}"',
                    "ALIGN_MEAN",
                ),
            ],
        },
    }


def alert_policies(ctx: Ctx) -> list[dict[str, Any]]:
    n, gcp = ctx.names, ctx.settings.gcp
    api = n.service("api")
    return [
        {
            "displayName": f"{n.prefix} api 5xx rate",
            "combiner": "OR",
            "conditions": [
                {
                    "displayName": "5xx responses per second",
                    "conditionThreshold": {
                        "filter": (
                            'metric.type="run.googleapis.com/request_count" resource.type="cloud_run_revision" '
                            f'resource.label.service_name="{api}" metric.label.response_code_class="5xx"'
                        ),
                        "aggregations": [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_RATE"}],
                        "comparison": "COMPARISON_GT",
                        "thresholdValue": gcp.alert_error_rate_per_second,
                        "duration": "300s",
                    },
                }
            ],
        },
        {
            "displayName": f"{n.prefix} cloud sql cpu",
            "combiner": "OR",
            "conditions": [
                {
                    "displayName": "CPU above 80% for 10 minutes",
                    "conditionThreshold": {
                        "filter": (
                            'metric.type="cloudsql.googleapis.com/database/cpu/utilization" '
                            'resource.type="cloudsql_database" '
                            f'resource.label.database_id="{n.project}:{n.sql_instance}"'
                        ),
                        "aggregations": [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MEAN"}],
                        "comparison": "COMPARISON_GT",
                        "thresholdValue": 0.8,
                        "duration": "600s",
                    },
                }
            ],
        },
    ]


def subset(desired: Any, current: Any) -> bool:
    """True when every value of `desired` is in `current` (the server adds names, etags, defaults)."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(subset(v, current.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(subset(d, c) for d, c in zip(desired, current, strict=True))
        )
    if isinstance(desired, int | float) and not isinstance(desired, bool):
        try:
            return float(current) == float(desired)
        except (TypeError, ValueError):
            return False
    return bool(desired == current)


@contextmanager
def _config_file(body: dict[str, Any]) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="pmis-monitoring-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
        yield path
    finally:
        os.unlink(path)


def _writer(ctx: Ctx, body: dict[str, Any], build: Callable[[str], Cmd]) -> Callable[[], Any]:
    def run() -> Any:
        with _config_file(body) as path:
            return ctx.gcloud.run(build(path))

    return run


def plan(ctx: Ctx, seen: Observed, phases: Phases) -> None:
    desired = dashboard(ctx)
    current = seen.dashboards.get(desired["displayName"])
    if current is None:
        phases.add(
            2, change(f"dashboard {desired['displayName']!r}", "create", "", _writer(ctx, desired, g.dashboard_create))
        )
    elif not subset(desired, current):
        body = {**desired, "etag": current.get("etag")} if current.get("etag") else desired
        name = current["name"]
        phases.add(
            2,
            change(
                f"dashboard {desired['displayName']!r}",
                "update",
                "widgets differ",
                _writer(ctx, body, functools.partial(g.dashboard_update, name)),
            ),
        )
    for policy in alert_policies(ctx):
        existing = seen.policies.get(policy["displayName"])
        if existing is None:
            phases.add(
                2,
                change(f"alert policy {policy['displayName']!r}", "create", "", _writer(ctx, policy, g.policy_create)),
            )
        elif not subset(policy, existing):
            name = existing["name"]
            phases.add(
                2,
                change(
                    f"alert policy {policy['displayName']!r}",
                    "update",
                    "conditions differ",
                    _writer(ctx, policy, functools.partial(g.policy_update, name)),
                ),
            )
