"""Network: the VPC, private subnets (tasks, RDS, ElastiCache), public subnets (ALB), egress, security groups.

- VPC: `aws.network.vpc_id` or the account's default VPC.
- Public subnets: `aws.network.public_subnet_ids`, or the default VPC's default subnets (one per AZ).
- Private subnets: `aws.network.private_subnet_ids`, or one subnet per `private_subnet_cidrs` entry, each
  in its own AZ, tagged Name=pmis-<env>-private-<az>, no public IPs — plus (nat_gateway) a NAT gateway
  and a private route table so tasks can pull images and read secrets.
- Security groups chained by reference: alb ← internet 80/443; api ← alb 8000; web ← alb 3000;
  rds 5432 and redis 6379 ← api, worker; worker has no ingress. Egress stays the default.
  Ingress rules we did not ask for on these groups are revoked (no blanket CIDR survives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from pmis_deploy.aws import naming, rules
from pmis_deploy.aws.plan import Change, Ids, error_code, waiter_config
from pmis_deploy.errors import ConfigError

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

ANYWHERE = "0.0.0.0/0"
Rule = tuple[str, int, int, str]  # (protocol, from port, to port, source: sg id or CIDR)


@dataclass(frozen=True)
class Network:
    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    security_groups: dict[str, str]
    subnet_azs: dict[str, str] = field(default_factory=dict)


def desired_ingress() -> dict[str, list[tuple[int, str]]]:
    """Per security-group role: (port, source) where source is another role or a CIDR."""
    return {
        "alb": [(80, ANYWHERE), (443, ANYWHERE)],
        "api": [(naming.API_PORT, "alb")],
        "web": [(naming.WEB_PORT, "alb")],
        "worker": [],
        "rds": [(naming.POSTGRES_PORT, "api"), (naming.POSTGRES_PORT, "worker")],
        "redis": [(naming.REDIS_PORT, "api"), (naming.REDIS_PORT, "worker")],
    }


def ip_permissions(rules_: list[Rule]) -> list[dict[str, Any]]:
    """Rules → the IpPermissions of AuthorizeSecurityGroupIngress (groups by reference, CIDRs by range)."""
    perms = []
    for proto, low, high, source in sorted(rules_):
        perm: dict[str, Any] = {"IpProtocol": proto, "FromPort": low, "ToPort": high}
        if source.startswith("sg-") or source.startswith("<new "):
            perm["UserIdGroupPairs"] = [{"GroupId": source}]
        elif ":" in source:
            perm["Ipv6Ranges"] = [{"CidrIpv6": source}]
        else:
            perm["IpRanges"] = [{"CidrIp": source}]
        perms.append(perm)
    return perms


def existing_rules(group: dict[str, Any]) -> set[Rule]:
    """A described security group's ingress as flat rules."""
    out: set[Rule] = set()
    for perm in group.get("IpPermissions", []):
        proto = str(perm.get("IpProtocol"))
        low, high = int(perm.get("FromPort", -1)), int(perm.get("ToPort", -1))
        for pair in perm.get("UserIdGroupPairs", []):
            out.add((proto, low, high, pair["GroupId"]))
        for rng in perm.get("IpRanges", []):
            out.add((proto, low, high, rng["CidrIp"]))
        for rng in perm.get("Ipv6Ranges", []):
            out.add((proto, low, high, rng["CidrIpv6"]))
    return out


def security_group_request(settings: Settings, role: str, vpc_id: str) -> dict[str, Any]:
    name = naming.security_group(settings, role)
    return {
        "GroupName": name,
        "Description": f"{settings.project} {settings.environment.value} {role}",
        "VpcId": vpc_id,
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": _tags(settings, name)}],
    }


def subnet_request(settings: Settings, vpc_id: str, cidr: str, az: str) -> dict[str, Any]:
    name = naming.private_subnet(settings, az)
    return {
        "VpcId": vpc_id,
        "CidrBlock": cidr,
        "AvailabilityZone": az,
        "TagSpecifications": [{"ResourceType": "subnet", "Tags": _tags(settings, name, tier="private")}],
    }


def _tags(settings: Settings, name: str, **extra: str) -> list[dict[str, str]]:
    tags = {"Name": name, "Project": settings.project, "Environment": settings.environment.value, **extra}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# ---------------------------------------------------------------------------------------------- reads


def resolve_vpc(aws: AwsClients, settings: Settings) -> str:
    ec2 = aws.client("ec2")
    if settings.aws.network.vpc_id:
        return settings.aws.network.vpc_id
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ConfigError(
            f"aws.network.vpc_id is not set and region {settings.aws.region} has no default VPC",
            hint="set aws.network.vpc_id (and its subnet ids) in config/<env>.toml",
        )
    return str(vpcs[0]["VpcId"])


def _subnets(aws: AwsClients, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = aws.client("ec2").get_paginator("describe_subnets").paginate(Filters=filters)
    return [s for page in pages for s in page["Subnets"]]


def _subnets_by_id(aws: AwsClients, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    subnets = _subnets(aws, [{"Name": "subnet-id", "Values": ids}])
    found = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ConfigError(f"aws.network: subnets {missing} do not exist", hint="fix the subnet ids")
    return found


def public_subnets(aws: AwsClients, settings: Settings, vpc_id: str) -> dict[str, str]:
    """Public subnet id → AZ (configured, else the default VPC's default subnets)."""
    configured = settings.aws.network.public_subnet_ids
    if configured:
        found = _subnets_by_id(aws, configured)
    else:
        subnets = _subnets(
            aws, [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default-for-az", "Values": ["true"]}]
        )
        found = {s["SubnetId"]: s["AvailabilityZone"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])}
        if not found:
            raise ConfigError(
                f"VPC {vpc_id} has no default subnets to put the load balancer in",
                hint="set aws.network.public_subnet_ids (two or more AZs)",
            )
    rules.check_load_balancer_subnets(found)
    return found


def _our_private_subnets(aws: AwsClients, settings: Settings, vpc_id: str) -> dict[str, dict[str, Any]]:
    """Subnets of the VPC by CIDR (ours are recognised by their Name tag)."""
    subnets = _subnets(aws, [{"Name": "vpc-id", "Values": [vpc_id]}])
    return {s["CidrBlock"]: s for s in subnets}


def _name_tag(resource: dict[str, Any]) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == "Name"), "")


def _security_groups(aws: AwsClients, settings: Settings, vpc_id: str) -> dict[str, dict[str, Any]]:
    names = {naming.security_group(settings, r): r for r in naming.SECURITY_GROUP_ROLES}
    pages = (
        aws.client("ec2")
        .get_paginator("describe_security_groups")
        .paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": list(names)}])
    )
    return {names[g["GroupName"]]: g for page in pages for g in page["SecurityGroups"] if g["GroupName"] in names}


# ---------------------------------------------------------------------------------------------- plan


def plan(aws: AwsClients, settings: Settings) -> tuple[list[Change], Ids]:
    """Changes that converge the network, and the Ids they fill (subnet:<cidr>, sg:<role>)."""
    vpc_id = resolve_vpc(aws, settings)
    public = public_subnets(aws, settings, vpc_id)
    ids = Ids()
    changes: list[Change] = []
    if settings.aws.network.private_subnet_ids:
        rules.check_private_subnets(_subnets_by_id(aws, settings.aws.network.private_subnet_ids))
    else:
        changes += _plan_private_subnets(aws, settings, vpc_id, sorted(set(public.values())), ids)
        if settings.aws.network.nat_gateway:
            changes += _plan_egress(aws, settings, vpc_id, next(iter(public)), ids)
    changes += _plan_security_groups(aws, settings, vpc_id, ids)
    return changes, ids


def _plan_private_subnets(aws: AwsClients, settings: Settings, vpc_id: str, azs: list[str], ids: Ids) -> list[Change]:
    cidrs = settings.aws.network.private_subnet_cidrs
    if len(cidrs) < 2 or len(azs) < 2:
        raise ConfigError(
            "aws.network.private_subnet_cidrs needs two or more CIDRs and the VPC two or more AZs",
            hint="list one CIDR per AZ in aws.network.private_subnet_cidrs",
        )
    existing = _our_private_subnets(aws, settings, vpc_id)
    ec2 = aws.client("ec2")
    vpc_cidrs = [
        a["CidrBlock"]
        for v in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
        for a in v.get("CidrBlockAssociationSet") or [{"CidrBlock": v["CidrBlock"]}]
    ]
    changes = []
    for index, cidr in enumerate(cidrs):
        subnet = existing.get(cidr)
        if subnet is None:
            check_free_cidr(cidr, vpc_id, vpc_cidrs, list(existing))
            az = azs[index % len(azs)]
            request = subnet_request(settings, vpc_id, cidr, az)

            def create(request: dict[str, Any] = request, cidr: str = cidr) -> None:
                ids[f"subnet:{cidr}"] = ec2.create_subnet(**request)["Subnet"]["SubnetId"]

            changes.append(Change(f"subnet {naming.private_subnet(settings, az)}", "create", f"{cidr} in {az}", create))
            continue
        if not _name_tag(subnet).startswith(naming.private_subnet(settings, "")):
            raise ConfigError(
                f"aws.network.private_subnet_cidrs: {cidr} is already used by subnet {subnet['SubnetId']} "
                f"({_name_tag(subnet) or 'untagged'}) in {vpc_id}",
                hint="choose free CIDRs for this environment, or set aws.network.private_subnet_ids",
            )
        ids[f"subnet:{cidr}"] = subnet["SubnetId"]
        if subnet.get("MapPublicIpOnLaunch"):
            sid = subnet["SubnetId"]
            changes.append(
                Change(
                    f"subnet {_name_tag(subnet)}",
                    "update",
                    "stop assigning public IPs",
                    partial(ec2.modify_subnet_attribute, SubnetId=sid, MapPublicIpOnLaunch={"Value": False}),
                )
            )
    return changes


def check_free_cidr(cidr: str, vpc_id: str, vpc_cidrs: list[str], used: list[str]) -> None:
    """A new subnet's CIDR must lie inside the VPC and overlap no existing subnet."""
    import ipaddress

    net = ipaddress.ip_network(cidr)
    if not any(net.subnet_of(ipaddress.ip_network(v)) for v in vpc_cidrs):  # type: ignore[arg-type]
        raise ConfigError(
            f"aws.network.private_subnet_cidrs: {cidr} is outside {vpc_id} ({', '.join(vpc_cidrs)})",
            hint="choose CIDRs inside the VPC's range",
        )
    clash = [u for u in used if net.overlaps(ipaddress.ip_network(u))]
    if clash:
        raise ConfigError(
            f"aws.network.private_subnet_cidrs: {cidr} overlaps existing subnet(s) {', '.join(clash)} in {vpc_id}",
            hint="choose free CIDRs for this environment, or set aws.network.private_subnet_ids",
        )


def _plan_egress(aws: AwsClients, settings: Settings, vpc_id: str, public_subnet: str, ids: Ids) -> list[Change]:
    """One NAT gateway in a public subnet and a private route table (0.0.0.0/0 → NAT) for our subnets."""
    ec2 = aws.client("ec2")
    nat_name, table_name = naming.nat_gateway(settings), naming.private_route_table(settings)
    nats = ec2.describe_nat_gateways(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag:Name", "Values": [nat_name]},
            {"Name": "state", "Values": ["pending", "available"]},
        ]
    )["NatGateways"]
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag:Name", "Values": [table_name]}]
    )["RouteTables"]
    changes: list[Change] = []
    if nats:
        ids["nat"] = nats[0]["NatGatewayId"]
    else:

        def create_nat() -> None:
            allocation = ec2.allocate_address(
                Domain="vpc",
                TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": _tags(settings, nat_name)}],
            )
            nat = ec2.create_nat_gateway(
                SubnetId=public_subnet,
                AllocationId=allocation["AllocationId"],
                TagSpecifications=[{"ResourceType": "natgateway", "Tags": _tags(settings, nat_name)}],
            )["NatGateway"]
            ids["nat"] = nat["NatGatewayId"]
            ec2.get_waiter("nat_gateway_available").wait(
                NatGatewayIds=[ids["nat"]], WaiterConfig=waiter_config(settings)
            )

        changes.append(
            Change(f"NAT gateway {nat_name}", "create", f"in {public_subnet}, with an Elastic IP", create_nat)
        )
    table = tables[0] if tables else None
    if table is None:

        def create_table() -> None:
            ids["route-table"] = ec2.create_route_table(
                VpcId=vpc_id, TagSpecifications=[{"ResourceType": "route-table", "Tags": _tags(settings, table_name)}]
            )["RouteTable"]["RouteTableId"]

        changes.append(Change(f"route table {table_name}", "create", "for the private subnets", create_table))
    else:
        ids["route-table"] = table["RouteTableId"]
    default_route = next(
        (r for r in (table or {}).get("Routes", []) if r.get("DestinationCidrBlock") == ANYWHERE), None
    )
    if default_route is None or default_route.get("NatGatewayId") != ids["nat"]:
        verb = "create_route" if default_route is None else "replace_route"
        changes.append(
            Change(
                f"route table {table_name}",
                "update",
                f"0.0.0.0/0 → {ids['nat']}",
                lambda: getattr(ec2, verb)(
                    RouteTableId=ids["route-table"], DestinationCidrBlock=ANYWHERE, NatGatewayId=ids["nat"]
                ),
            )
        )
    associated = {a.get("SubnetId") for a in (table or {}).get("Associations", [])}
    for cidr in settings.aws.network.private_subnet_cidrs:
        key = f"subnet:{cidr}"
        if ids[key] in associated:
            continue
        changes.append(
            Change(
                f"route table {table_name}",
                "update",
                f"associate {ids[key]}",
                partial(_associate, ec2, ids, key),
            )
        )
    return changes


def _associate(ec2: Any, ids: Ids, key: str) -> None:
    ec2.associate_route_table(RouteTableId=ids["route-table"], SubnetId=ids[key])


def _plan_security_groups(aws: AwsClients, settings: Settings, vpc_id: str, ids: Ids) -> list[Change]:
    ec2 = aws.client("ec2")
    groups = _security_groups(aws, settings, vpc_id)
    changes: list[Change] = []
    for role in naming.SECURITY_GROUP_ROLES:
        key = f"sg:{role}"
        if role in groups:
            ids[key] = groups[role]["GroupId"]
            continue
        request = security_group_request(settings, role, vpc_id)

        def create(request: dict[str, Any] = request, key: str = key) -> None:
            try:
                ids[key] = ec2.create_security_group(**request)["GroupId"]
            except Exception as exc:  # created concurrently: adopt it
                if error_code(exc) != "InvalidGroup.Duplicate":
                    raise
                ids[key] = _security_groups(aws, settings, vpc_id)[key.split(":")[1]]["GroupId"]

        changes.append(Change(f"security group {request['GroupName']}", "create", f"in {vpc_id}", create))
    for role, wanted in desired_ingress().items():
        changes += _plan_ingress(aws, settings, role, wanted, groups.get(role), ids)
    return changes


def _resolve(source: str, ids: Ids) -> str:
    return source if "/" in source else ids[f"sg:{source}"]


def _plan_ingress(
    aws: AwsClients,
    settings: Settings,
    role: str,
    wanted: list[tuple[int, str]],
    group: dict[str, Any] | None,
    ids: Ids,
) -> list[Change]:
    ec2 = aws.client("ec2")
    name = naming.security_group(settings, role)
    desired = {("tcp", port, port, _resolve(src, ids)) for port, src in wanted}
    have = existing_rules(group) if group else set()
    missing, extra = desired - have, have - desired
    changes: list[Change] = []
    if missing:

        def authorize(missing: set[Rule] = missing) -> None:
            current = {(p, lo, hi, _resolve_placeholder(src, ids)) for p, lo, hi, src in missing}
            perms = ip_permissions(sorted(current))
            rules.check_ingress(role, perms)
            try:
                ec2.authorize_security_group_ingress(GroupId=ids[f"sg:{role}"], IpPermissions=perms)
            except Exception as exc:
                if error_code(exc) != "InvalidPermission.Duplicate":
                    raise

        detail = ", ".join(f"{lo} from {_label(src, ids)}" for _, lo, _, src in sorted(missing))
        changes.append(Change(f"security group {name}", "update", f"allow {detail}", authorize))
    if extra:

        def revoke(extra: set[Rule] = extra) -> None:
            ec2.revoke_security_group_ingress(GroupId=ids[f"sg:{role}"], IpPermissions=ip_permissions(sorted(extra)))

        detail = ", ".join(f"{proto} {lo}-{hi} from {src}" for proto, lo, hi, src in sorted(extra))
        changes.append(Change(f"security group {name}", "update", f"revoke unexpected ingress {detail}", revoke))
    return changes


def _resolve_placeholder(source: str, ids: Ids) -> str:
    """At apply time a placeholder source becomes the id its create change set."""
    if source.startswith("<new sg:"):
        return ids[source[len("<new ") : -1]]
    return source


def _label(source: str, ids: Ids) -> str:
    for key, value in ids.items():
        if value == source and key.startswith("sg:"):
            return key[3:]
    return source.removeprefix("<new sg:").removesuffix(">")


# ---------------------------------------------------------------------------------------------- read


def read(aws: AwsClients, settings: Settings, ids: Ids | None = None) -> Network:
    """The network as it is now (placeholders for what a dry-run plan would create)."""
    ids = ids if ids is not None else Ids()
    vpc_id = resolve_vpc(aws, settings)
    public = public_subnets(aws, settings, vpc_id)
    if settings.aws.network.private_subnet_ids:
        private = _subnets_by_id(aws, settings.aws.network.private_subnet_ids)
    else:
        existing = _our_private_subnets(aws, settings, vpc_id)
        private = {}
        for cidr in settings.aws.network.private_subnet_cidrs:
            subnet = existing.get(cidr)
            if subnet is not None:
                private[subnet["SubnetId"]] = subnet["AvailabilityZone"]
            else:
                private[ids[f"subnet:{cidr}"]] = "?"
    groups = _security_groups(aws, settings, vpc_id)
    sgs = {
        role: groups[role]["GroupId"] if role in groups else ids[f"sg:{role}"] for role in naming.SECURITY_GROUP_ROLES
    }
    return Network(vpc_id, tuple(public), tuple(private), sgs, {**public, **private})
