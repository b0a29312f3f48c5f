"""The application load balancer: internet-facing in the public subnets, `ip` target groups (api :8000 with
its health check on /health, web :3000), listeners and path routing.

Listeners: with `aws.certificate_arn`, 443 (TLS) serves and 80 redirects to it; without, 80 serves.
The serving listener forwards /api/* and /health to api and everything else to web.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming, rules
from pmis_deploy.aws.plan import Change, Ids, error_code, waiter_config

if TYPE_CHECKING:
    from pmis_deploy.aws.network import Network
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

API_PATHS = ["/api/*", naming.API_HEALTH_PATH]
API_RULE_PRIORITY = 10
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
TARGETS = {"api": (naming.API_PORT, naming.API_HEALTH_PATH), "web": (naming.WEB_PORT, "/")}


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    dns: str
    target_groups: dict[str, str]


def load_balancer_request(settings: Settings, network: Network) -> dict[str, Any]:
    return {
        "Name": naming.load_balancer(settings),
        "Subnets": sorted(network.public_subnet_ids),
        "SecurityGroups": [network.security_groups["alb"]],
        "Scheme": "internet-facing",
        "Type": "application",
        "IpAddressType": "ipv4",
        "Tags": [
            {"Key": "Project", "Value": settings.project},
            {"Key": "Environment", "Value": settings.environment.value},
        ],
    }


def target_group_request(settings: Settings, service: str, vpc_id: str) -> dict[str, Any]:
    port, health = TARGETS[service]
    return {
        "Name": naming.target_group(settings, service),
        "Protocol": "HTTP",
        "Port": port,
        "VpcId": vpc_id,
        "TargetType": "ip",
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPath": health,
        "HealthCheckIntervalSeconds": 15,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 3,
        "Matcher": {"HttpCode": "200"},
    }


def forward(target_group_arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": target_group_arn}]


REDIRECT_TO_HTTPS = [
    {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
]


def listener_requests(settings: Settings, alb_arn: str, web_tg: str) -> dict[int, dict[str, Any]]:
    """Listener port → CreateListener arguments."""
    cert = settings.aws.certificate_arn
    if not cert:
        return {80: {"LoadBalancerArn": alb_arn, "Protocol": "HTTP", "Port": 80, "DefaultActions": forward(web_tg)}}
    return {
        80: {"LoadBalancerArn": alb_arn, "Protocol": "HTTP", "Port": 80, "DefaultActions": REDIRECT_TO_HTTPS},
        443: {
            "LoadBalancerArn": alb_arn,
            "Protocol": "HTTPS",
            "Port": 443,
            "Certificates": [{"CertificateArn": cert}],
            "SslPolicy": TLS_POLICY,
            "DefaultActions": forward(web_tg),
        },
    }


def api_rule_request(listener_arn: str, api_tg: str) -> dict[str, Any]:
    return {
        "ListenerArn": listener_arn,
        "Priority": API_RULE_PRIORITY,
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(API_PATHS)}}],
        "Actions": forward(api_tg),
    }


def action_key(actions: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Comparable form of listener/rule actions (forward target or redirect target)."""
    out: list[tuple[str, ...]] = []
    for a in actions:
        if a.get("Type") == "forward":
            arn = a.get("TargetGroupArn") or (a.get("ForwardConfig", {}).get("TargetGroups") or [{}])[0].get(
                "TargetGroupArn"
            )
            out.append(("forward", str(arn)))
        elif a.get("Type") == "redirect":
            r = a.get("RedirectConfig", {})
            out.append(("redirect", str(r.get("Protocol")), str(r.get("Port")), str(r.get("StatusCode"))))
        else:
            out.append((str(a.get("Type")),))
    return out


def _paths(rule: dict[str, Any]) -> set[str]:
    values: set[str] = set()
    for cond in rule.get("Conditions", []):
        if cond.get("Field") == "path-pattern":
            values |= set(cond.get("Values") or []) | set(cond.get("PathPatternConfig", {}).get("Values") or [])
    return values


# ---------------------------------------------------------------------------------------------- reads


def describe_load_balancer(aws: AwsClients, settings: Settings) -> dict[str, Any] | None:
    try:
        found = aws.client("elbv2").describe_load_balancers(Names=[naming.load_balancer(settings)])
    except Exception as exc:
        if error_code(exc) == "LoadBalancerNotFound":
            return None
        raise
    return dict(found["LoadBalancers"][0])


def describe_target_groups(aws: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    out = {}
    for service in TARGETS:
        try:
            found = aws.client("elbv2").describe_target_groups(Names=[naming.target_group(settings, service)])
        except Exception as exc:
            if error_code(exc) == "TargetGroupNotFound":
                continue
            raise
        out[service] = dict(found["TargetGroups"][0])
    return out


def _listeners(aws: AwsClients, alb_arn: str) -> dict[int, dict[str, Any]]:
    pages = aws.client("elbv2").get_paginator("describe_listeners").paginate(LoadBalancerArn=alb_arn)
    return {int(li["Port"]): li for page in pages for li in page["Listeners"]}


def _rules(aws: AwsClients, listener_arn: str) -> list[dict[str, Any]]:
    return list(aws.client("elbv2").describe_rules(ListenerArn=listener_arn)["Rules"])


# ---------------------------------------------------------------------------------------------- plan


def plan(aws: AwsClients, settings: Settings, network: Network) -> list[Change]:
    elbv2 = aws.client("elbv2")
    ids = Ids()
    changes: list[Change] = []
    rules.check_load_balancer_subnets({s: network.subnet_azs.get(s, s) for s in network.public_subnet_ids})
    groups = describe_target_groups(aws, settings)
    for service in TARGETS:
        request = target_group_request(settings, service, network.vpc_id)
        rules.check_target_group_request(request)
        tg = groups.get(service)
        if tg is None:

            def create_tg(request: dict[str, Any] = request, service: str = service) -> None:
                ids[f"tg:{service}"] = elbv2.create_target_group(**request)["TargetGroups"][0]["TargetGroupArn"]

            port, health = TARGETS[service]
            changes.append(
                Change(f"target group {request['Name']}", "create", f"ip, port {port}, health {health}", create_tg)
            )
            continue
        ids[f"tg:{service}"] = tg["TargetGroupArn"]
        if tg.get("TargetType") != "ip" or int(tg.get("Port", 0)) != request["Port"]:
            from pmis_deploy.console import warn

            warn(
                f"target group {request['Name']} has type {tg.get('TargetType')} port {tg.get('Port')}; "
                "delete it so it can be recreated as ip/" + str(request["Port"])
            )
        if (
            tg.get("HealthCheckPath") != request["HealthCheckPath"]
            or (tg.get("Matcher") or {}).get("HttpCode") != "200"
        ):
            changes.append(
                Change(
                    f"target group {request['Name']}",
                    "update",
                    f"health check {request['HealthCheckPath']}",
                    partial(
                        elbv2.modify_target_group,
                        TargetGroupArn=tg["TargetGroupArn"],
                        HealthCheckPath=request["HealthCheckPath"],
                        Matcher=request["Matcher"],
                    ),
                )
            )
    alb = describe_load_balancer(aws, settings)
    request = load_balancer_request(settings, network)
    if alb is None:

        def create_alb() -> None:
            arn = elbv2.create_load_balancer(**request)["LoadBalancers"][0]["LoadBalancerArn"]
            ids["alb"] = arn
            elbv2.get_waiter("load_balancer_available").wait(
                LoadBalancerArns=[arn], WaiterConfig=waiter_config(settings)
            )

        changes.append(
            Change(
                f"load balancer {request['Name']}",
                "create",
                f"internet-facing in {len(request['Subnets'])} public subnets",
                create_alb,
            )
        )
        listeners: dict[int, dict[str, Any]] = {}
    else:
        ids["alb"] = alb["LoadBalancerArn"]
        subnets = sorted(z["SubnetId"] for z in alb.get("AvailabilityZones", []))
        if subnets != request["Subnets"]:
            changes.append(
                Change(
                    f"load balancer {request['Name']}",
                    "update",
                    "subnets",
                    lambda: elbv2.set_subnets(LoadBalancerArn=ids["alb"], Subnets=request["Subnets"]),
                )
            )
        if sorted(alb.get("SecurityGroups", [])) != request["SecurityGroups"]:
            changes.append(
                Change(
                    f"load balancer {request['Name']}",
                    "update",
                    "security group",
                    lambda: elbv2.set_security_groups(
                        LoadBalancerArn=ids["alb"], SecurityGroups=request["SecurityGroups"]
                    ),
                )
            )
        listeners = _listeners(aws, alb["LoadBalancerArn"])
    changes += _plan_listeners(aws, settings, listeners, ids)
    return changes


def _plan_listeners(
    aws: AwsClients, settings: Settings, listeners: dict[int, dict[str, Any]], ids: Ids
) -> list[Change]:
    elbv2 = aws.client("elbv2")
    changes: list[Change] = []
    wanted = listener_requests(settings, ids["alb"], ids["tg:web"])
    serving = max(wanted)
    for port, request in wanted.items():
        current = listeners.get(port)
        key = f"listener:{port}"
        if current is None:

            def create(port: int = port, key: str = key) -> None:
                live = listener_requests(settings, ids["alb"], ids["tg:web"])[port]
                ids[key] = elbv2.create_listener(**live)["Listeners"][0]["ListenerArn"]

            changes.append(Change(f"listener {port}", "create", _describe_actions(request["DefaultActions"]), create))
            continue
        ids[key] = current["ListenerArn"]
        cert_ok = port != 443 or [c.get("CertificateArn") for c in current.get("Certificates", [])][:1] == [
            settings.aws.certificate_arn
        ]
        if action_key(current.get("DefaultActions", [])) != action_key(request["DefaultActions"]) or not cert_ok:

            def modify(port: int = port, key: str = key) -> None:
                live = listener_requests(settings, ids["alb"], ids["tg:web"])[port]
                elbv2.modify_listener(ListenerArn=ids[key], **{k: v for k, v in live.items() if k != "LoadBalancerArn"})

            changes.append(Change(f"listener {port}", "update", _describe_actions(request["DefaultActions"]), modify))
    for port, current in listeners.items():  # e.g. 80 after a certificate was configured: it only redirects
        if port == serving:
            continue
        for rule in _rules(aws, current["ListenerArn"]):
            if not rule.get("IsDefault") and _paths(rule) == set(API_PATHS):
                changes.append(
                    Change(
                        f"listener {port} rule",
                        "delete",
                        f"{' '.join(API_PATHS)} → api (now served on {serving})",
                        partial(elbv2.delete_rule, RuleArn=rule["RuleArn"]),
                    )
                )
    existing_rule = None
    if f"listener:{serving}" in ids:
        existing_rule = next((r for r in _rules(aws, ids[f"listener:{serving}"]) if _paths(r) == set(API_PATHS)), None)
    if existing_rule is None:

        def create_rule() -> None:
            elbv2.create_rule(**api_rule_request(ids[f"listener:{serving}"], ids["tg:api"]))

        changes.append(Change(f"listener {serving} rule", "create", f"{' '.join(API_PATHS)} → api", create_rule))
    elif action_key(existing_rule.get("Actions", [])) != action_key(forward(ids["tg:api"])):
        changes.append(
            Change(
                f"listener {serving} rule",
                "update",
                f"{' '.join(API_PATHS)} → api",
                lambda: elbv2.modify_rule(RuleArn=existing_rule["RuleArn"], Actions=forward(ids["tg:api"])),
            )
        )
    return changes


def _describe_actions(actions: list[dict[str, Any]]) -> str:
    first = actions[0]
    if first["Type"] == "redirect":
        return "redirect to HTTPS 443"
    return "forward to web (default)"


# ---------------------------------------------------------------------------------------------- read


def read(aws: AwsClients, settings: Settings) -> LoadBalancer:
    alb = describe_load_balancer(aws, settings)
    groups = describe_target_groups(aws, settings)
    return LoadBalancer(
        arn=str(alb["LoadBalancerArn"]) if alb else f"<new {naming.load_balancer(settings)}>",
        dns=str(alb["DNSName"]) if alb else f"<new {naming.load_balancer(settings)}>",
        target_groups={s: str(groups[s]["TargetGroupArn"]) if s in groups else f"<new tg {s}>" for s in TARGETS},
    )
