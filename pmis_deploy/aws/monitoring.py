"""CloudWatch: one dashboard and the alarms (ALB 5xx, unhealthy hosts, ECS CPU/memory per service,
RDS CPU/free storage/connections). Alarms notify `aws.alarm_topic_arn` when it is set.
Both are compared with what exists, so a second run writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

GIB = 1024**3
COMPARED = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmDescription",
)


@dataclass(frozen=True)
class Targets:
    """What the alarms watch (ARN suffixes are CloudWatch's dimension values)."""

    load_balancer: str  # app/<name>/<id>
    target_groups: dict[str, str]  # service → targetgroup/<name>/<id>
    cluster: str
    db_instance: str
    replication_group: str


def arn_suffix(arn: str, marker: str) -> str:
    """`…:loadbalancer/app/x/1` → `app/x/1`; `…:targetgroup/x/1` → `targetgroup/x/1`."""
    if marker == "loadbalancer/":
        return arn.split(marker, 1)[-1]
    return marker + arn.split(marker, 1)[-1]


def _alarm(
    settings: Settings,
    what: str,
    description: str,
    namespace: str,
    metric: str,
    dims: dict[str, str],
    statistic: str,
    threshold: float,
    operator: str,
    periods: int = 3,
    period: int = 60,
) -> dict[str, Any]:
    actions = [settings.aws.alarm_topic_arn] if settings.aws.alarm_topic_arn else []
    return {
        "AlarmName": naming.alarm(settings, what),
        "AlarmDescription": description,
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        "Statistic": statistic,
        "Period": period,
        "EvaluationPeriods": periods,
        "Threshold": float(threshold),
        "ComparisonOperator": operator,
        "TreatMissingData": "notBreaching",
        "AlarmActions": actions,
        "OKActions": actions,
    }


def alarm_requests(settings: Settings, t: Targets) -> list[dict[str, Any]]:
    """PutMetricAlarm arguments for every alarm of the environment."""
    gte, gt, lt = "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold"
    lb = {"LoadBalancer": t.load_balancer}
    alarms = [
        _alarm(
            settings,
            "alb-5xx",
            "load balancer 5xx responses",
            "AWS/ApplicationELB",
            "HTTPCode_ELB_5XX_Count",
            lb,
            "Sum",
            10,
            gte,
        ),
        _alarm(
            settings,
            "api-5xx",
            "api 5xx responses",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            {**lb, "TargetGroup": t.target_groups["api"]},
            "Sum",
            10,
            gte,
        ),
    ]
    for service, tg in sorted(t.target_groups.items()):
        alarms.append(
            _alarm(
                settings,
                f"{service}-unhealthy-hosts",
                f"{service} targets failing health checks",
                "AWS/ApplicationELB",
                "UnHealthyHostCount",
                {**lb, "TargetGroup": tg},
                "Maximum",
                1,
                gte,
            )
        )
    for service in naming.ECS_SERVICES:
        dims = {"ClusterName": t.cluster, "ServiceName": naming.ecs_service(settings, service)}
        for suffix, label, metric in (("cpu", "CPU", "CPUUtilization"), ("memory", "memory", "MemoryUtilization")):
            alarms.append(
                _alarm(
                    settings,
                    f"{service}-{suffix}",
                    f"{service} {label} above 85%",
                    "AWS/ECS",
                    metric,
                    dims,
                    "Average",
                    85,
                    gt,
                    periods=3,
                    period=300,
                )
            )
    db = {"DBInstanceIdentifier": t.db_instance}
    alarms += [
        _alarm(
            settings,
            "rds-cpu",
            "database CPU above 80%",
            "AWS/RDS",
            "CPUUtilization",
            db,
            "Average",
            80,
            gt,
            period=300,
        ),
        _alarm(
            settings,
            "rds-free-storage",
            "database free storage below 2 GiB",
            "AWS/RDS",
            "FreeStorageSpace",
            db,
            "Minimum",
            2 * GIB,
            lt,
            periods=1,
            period=300,
        ),
        _alarm(
            settings,
            "rds-connections",
            "database connections above 80",
            "AWS/RDS",
            "DatabaseConnections",
            db,
            "Maximum",
            80,
            gt,
            period=300,
        ),
    ]
    return alarms


def dashboard_body(settings: Settings, t: Targets) -> dict[str, Any]:
    region = settings.aws.region

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Average") -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics},
        }

    lb = ["LoadBalancer", t.load_balancer]
    ecs = [
        ["AWS/ECS", m, "ClusterName", t.cluster, "ServiceName", naming.ecs_service(settings, s)]
        for s in naming.ECS_SERVICES
        for m in ("CPUUtilization", "MemoryUtilization")
    ]
    db = ["DBInstanceIdentifier", t.db_instance]
    return {
        "widgets": [
            widget(
                "Requests and 5xx",
                [
                    ["AWS/ApplicationELB", "RequestCount", *lb],
                    ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *lb],
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *lb],
                ],
                0,
                0,
                "Sum",
            ),
            widget("Response time", [["AWS/ApplicationELB", "TargetResponseTime", *lb]], 12, 0),
            widget("ECS CPU and memory", ecs, 0, 6),
            widget(
                "Healthy hosts",
                [
                    ["AWS/ApplicationELB", "HealthyHostCount", *lb, "TargetGroup", tg]
                    for tg in sorted(t.target_groups.values())
                ],
                12,
                6,
                "Minimum",
            ),
            widget(
                "RDS",
                [["AWS/RDS", m, *db] for m in ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace")],
                0,
                12,
            ),
            widget(
                "Redis",
                [
                    ["AWS/ElastiCache", m, "ReplicationGroupId", t.replication_group]
                    for m in ("EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "CurrConnections")
                ],
                12,
                12,
            ),
        ]
    }


def _normalise(alarm: dict[str, Any]) -> dict[str, Any]:
    out = {k: alarm.get(k) for k in COMPARED}
    out["Threshold"] = float(out["Threshold"] or 0)
    out["Dimensions"] = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions", []))
    out["AlarmActions"] = sorted(alarm.get("AlarmActions", []))
    out["OKActions"] = sorted(alarm.get("OKActions", []))
    return out


def plan(aws: AwsClients, settings: Settings, targets: Targets) -> list[Change]:
    cw = aws.client("cloudwatch")
    changes: list[Change] = []
    name = naming.dashboard(settings)
    body = dashboard_body(settings, targets)
    current_body = None
    listed = cw.list_dashboards(DashboardNamePrefix=name).get("DashboardEntries", [])
    if any(d["DashboardName"] == name for d in listed):
        current_body = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])
    if current_body != body:
        text = json.dumps(body)
        changes.append(
            Change(
                f"dashboard {name}",
                "update" if current_body else "create",
                f"{len(body['widgets'])} widgets",
                lambda: cw.put_dashboard(DashboardName=name, DashboardBody=text),
            )
        )
    wanted = alarm_requests(settings, targets)
    pages = cw.get_paginator("describe_alarms").paginate(AlarmNames=[a["AlarmName"] for a in wanted])
    existing = {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}
    for request in wanted:
        current = existing.get(request["AlarmName"])
        if current is not None and _normalise(current) == _normalise(request):
            continue
        changes.append(
            Change(
                f"alarm {request['AlarmName']}",
                "update" if current else "create",
                request["AlarmDescription"],
                partial(cw.put_metric_alarm, **request),
            )
        )
    return changes
