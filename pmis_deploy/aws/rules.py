"""Rules real AWS enforces and moto does not (guide-defects.md, "moto caveats").

Every create request is checked here before it is sent, so the emulator cannot hide a request real
AWS would reject. Each function raises `DeployError` naming the rule; unit tests check them.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

from pmis_deploy.errors import DeployError

# ElastiCache AuthToken: 16-128 printable characters; the only special characters allowed are !&#$^<>-.
AUTH_TOKEN_SPECIALS = "!&#$^<>-"  # noqa: S105 (a character class, not a secret)
AUTH_TOKEN_MIN, AUTH_TOKEN_MAX = 16, 128
# What we generate: letters and digits only, so the token needs no escaping anywhere (URLs, shells).
AUTH_TOKEN_ALPHABET = string.ascii_letters + string.digits
AUTH_TOKEN_LENGTH = 64
# RDS MasterUserPassword (PostgreSQL): 8-128 printable ASCII characters except / " @ and space.
RDS_PASSWORD_FORBIDDEN = '/"@ '  # noqa: S105
RDS_PASSWORD_MIN, RDS_PASSWORD_MAX = 8, 128
BLANKET_CIDRS = ("0.0.0.0/0", "::/0")


class RuleViolation(DeployError):
    """A request real AWS would reject (or a configuration that is unsafe), caught before sending."""


def generate_auth_token(length: int = AUTH_TOKEN_LENGTH) -> str:
    """A new ElastiCache AUTH token within the service's character rules."""
    token = "".join(secrets.choice(AUTH_TOKEN_ALPHABET) for _ in range(length))
    check_auth_token(token)
    return token


def check_auth_token(token: str) -> None:
    if not AUTH_TOKEN_MIN <= len(token) <= AUTH_TOKEN_MAX:
        raise RuleViolation(f"ElastiCache AUTH token must be {AUTH_TOKEN_MIN}-{AUTH_TOKEN_MAX} characters")
    bad = sorted({c for c in token if not (c.isascii() and c.isalnum()) and c not in AUTH_TOKEN_SPECIALS})
    if bad:
        raise RuleViolation(
            f"ElastiCache AUTH token contains {len(bad)} forbidden character kind(s)",
            hint=f"only letters, digits and {AUTH_TOKEN_SPECIALS} are allowed",
        )


def check_rds_password(password: str) -> None:
    if not RDS_PASSWORD_MIN <= len(password) <= RDS_PASSWORD_MAX:
        raise RuleViolation(f"RDS master password must be {RDS_PASSWORD_MIN}-{RDS_PASSWORD_MAX} characters")
    if any(c in RDS_PASSWORD_FORBIDDEN or not (c.isascii() and c.isprintable()) for c in password):
        raise RuleViolation('RDS master password may not contain /, ", @, spaces or non-printable characters')


def check_db_instance_request(request: Mapping[str, Any]) -> None:
    """CreateDBInstance: private, encrypted, in our subnet group, password managed by RDS."""
    problems = []
    if request.get("PubliclyAccessible") is not False:
        problems.append("PubliclyAccessible must be False explicitly (the default can be public)")
    if request.get("StorageEncrypted") is not True:
        problems.append("StorageEncrypted must be True (the default is unencrypted)")
    if not request.get("DBSubnetGroupName"):
        problems.append("DBSubnetGroupName is required (private subnets)")
    if request.get("ManageMasterUserPassword") and "MasterUserPassword" in request:
        problems.append("MasterUserPassword cannot be combined with ManageMasterUserPassword")
    if not request.get("ManageMasterUserPassword"):
        if "MasterUserPassword" not in request:
            problems.append("a master password is required (use ManageMasterUserPassword=True)")
        else:
            check_rds_password(request["MasterUserPassword"])
    if not str(request.get("EngineVersion", "")).startswith("15"):
        problems.append("EngineVersion must be PostgreSQL 15")
    _raise(problems, "RDS instance")


def check_replication_group_request(request: Mapping[str, Any]) -> None:
    """CreateReplicationGroup: TLS needs a cache subnet group; AUTH needs TLS; token rules."""
    problems = []
    if request.get("TransitEncryptionEnabled") and not request.get("CacheSubnetGroupName"):
        problems.append("TransitEncryptionEnabled requires CacheSubnetGroupName")
    if "AuthToken" in request:
        if not request.get("TransitEncryptionEnabled"):
            problems.append("AuthToken requires TransitEncryptionEnabled")
        check_auth_token(request["AuthToken"])
    if request.get("AutomaticFailoverEnabled") and int(request.get("NumCacheClusters", 1)) < 2:
        problems.append("AutomaticFailoverEnabled needs at least 2 cache clusters")
    _raise(problems, "ElastiCache replication group")


def check_load_balancer_subnets(subnet_azs: Mapping[str, str]) -> None:
    """CreateLoadBalancer (application): subnets from at least two Availability Zones."""
    if len(set(subnet_azs.values())) < 2:
        raise RuleViolation(
            f"an application load balancer needs subnets in at least 2 Availability Zones, got {dict(subnet_azs)}",
            hint="configure aws.network.public_subnet_ids with subnets in two or more AZs",
        )


def check_private_subnets(subnet_azs: Mapping[str, str]) -> None:
    if len(set(subnet_azs.values())) < 2:
        raise RuleViolation(
            f"RDS, ElastiCache and the tasks need private subnets in at least 2 AZs, got {dict(subnet_azs)}",
            hint="configure aws.network.private_subnet_ids (or private_subnet_cidrs) for two or more AZs",
        )


def check_ingress(role: str, permissions: Iterable[Mapping[str, Any]]) -> None:
    """Only the load balancer may be open to the internet; everything else by security-group reference."""
    if role == "alb":
        return
    for perm in permissions:
        cidrs = [r.get("CidrIp") for r in perm.get("IpRanges", [])]
        cidrs += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges", [])]
        if any(c in BLANKET_CIDRS for c in cidrs):
            raise RuleViolation(f"security group {role}: a blanket CIDR ingress rule is not allowed")


def check_target_group_request(request: Mapping[str, Any]) -> None:
    if request.get("TargetType") != "ip":
        raise RuleViolation("Fargate (awsvpc) target groups must have TargetType='ip' (the default is instance)")


def _raise(problems: list[str], what: str) -> None:
    if problems:
        raise RuleViolation(f"{what} request rejected: " + "; ".join(problems))
