"""Rules real AWS enforces and moto does not (guide-defects.md "moto caveats"), checked before sending."""

from __future__ import annotations

import pytest

from pmis_deploy.aws import rules
from pmis_deploy.aws.rules import RuleViolation
from pmis_deploy.config import Settings, load_settings


@pytest.fixture(scope="module")
def production() -> Settings:
    return load_settings("production", environ={}).settings


def test_generated_auth_tokens_follow_elasticache_rules() -> None:
    tokens = [rules.generate_auth_token() for _ in range(200)]
    assert len(set(tokens)) == 200
    for token in tokens:
        assert rules.AUTH_TOKEN_MIN <= len(token) <= rules.AUTH_TOKEN_MAX
        assert token.isalnum() and token.isascii()  # no character that needs escaping in a URL


@pytest.mark.parametrize(
    "token",
    [
        "a" * 15,  # too short
        "a" * 129,  # too long
        "abcdefghijklmnopqrstuvwxyz012345=",  # base64 padding: the runbook's token (always rejected)
        "abcdefghijklmnop/qrstuvwxyz",
        "abcdefghijklmnop+qrstuvwxyz",
        "abcdefghijklmnop@qrstuvwxyz",
        'abcdefghijklmnop"qrstuvwxyz',
        "abcdefghijklmnop qrstuvwxyz",
    ],
)
def test_auth_token_rejects_what_elasticache_rejects(token: str) -> None:
    with pytest.raises(RuleViolation):
        rules.check_auth_token(token)


def test_auth_token_accepts_the_allowed_specials() -> None:
    rules.check_auth_token("abcdefghijklmnop!&#$^<>-")


@pytest.mark.parametrize(
    "password", ["short", "has/slash-in-it", 'has"quote"in', "has@at-sign", "has space in", "x" * 129]
)
def test_rds_password_rules(password: str) -> None:
    with pytest.raises(RuleViolation):
        rules.check_rds_password(password)


def test_rds_password_accepts_printable_ascii() -> None:
    rules.check_rds_password("Abc123!#$%^&*()-_=+[]{};:,.<>?~")


def test_db_instance_request_is_private_encrypted_and_rds_managed(production: Settings) -> None:
    from pmis_deploy.aws.database import instance_request

    request = instance_request(production, "sg-0123456789abcdef0")
    rules.check_db_instance_request(request)
    assert request["PubliclyAccessible"] is False
    assert request["StorageEncrypted"] is True
    assert request["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in request
    assert request["DBSubnetGroupName"] == "pmis-production-db-subnets"
    assert request["MultiAZ"] is True and request["DeletionProtection"] is True
    assert request["StorageType"] == "gp3"
    assert request["BackupRetentionPeriod"] == 30
    assert request["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert request["EngineVersion"] == "15"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"PubliclyAccessible": None}, "PubliclyAccessible"),
        ({"StorageEncrypted": False}, "StorageEncrypted"),
        ({"DBSubnetGroupName": ""}, "DBSubnetGroupName"),
        ({"MasterUserPassword": "GoodPassword123"}, "cannot be combined"),
        ({"EngineVersion": "16.3"}, "PostgreSQL 15"),
    ],
)
def test_db_instance_request_violations(production: Settings, override: dict, message: str) -> None:
    from pmis_deploy.aws.database import instance_request

    request = {**instance_request(production, "sg-1"), **override}
    with pytest.raises(RuleViolation, match=message):
        rules.check_db_instance_request(request)


def test_plain_password_request_is_checked(production: Settings) -> None:
    from pmis_deploy.aws.database import instance_request

    request = {
        **instance_request(production, "sg-1"),
        "ManageMasterUserPassword": False,
        "MasterUserPassword": "a/b" * 5,
    }
    with pytest.raises(RuleViolation, match="may not contain"):
        rules.check_db_instance_request(request)


def test_replication_group_request_has_tls_subnet_group_and_auth(production: Settings) -> None:
    from pmis_deploy.aws.cache import replication_group_request

    request = replication_group_request(production, "sg-1", rules.generate_auth_token())
    rules.check_replication_group_request(request)
    assert request["TransitEncryptionEnabled"] and request["AtRestEncryptionEnabled"]
    assert request["CacheSubnetGroupName"] == "pmis-production-cache-subnets"
    assert request["AutomaticFailoverEnabled"] and request["MultiAZEnabled"]
    assert request["NumCacheClusters"] == 2
    assert request["EngineVersion"].startswith("7")


def test_transit_encryption_requires_a_cache_subnet_group(production: Settings) -> None:
    from pmis_deploy.aws.cache import replication_group_request

    request = replication_group_request(production, "sg-1", rules.generate_auth_token())
    del request["CacheSubnetGroupName"]
    with pytest.raises(RuleViolation, match="CacheSubnetGroupName"):
        rules.check_replication_group_request(request)


def test_auth_token_requires_transit_encryption(production: Settings) -> None:
    from pmis_deploy.aws.cache import replication_group_request

    request = {
        **replication_group_request(production, "sg-1", rules.generate_auth_token()),
        "TransitEncryptionEnabled": False,
    }
    with pytest.raises(RuleViolation, match="AuthToken requires TransitEncryptionEnabled"):
        rules.check_replication_group_request(request)


def test_replication_group_rejects_a_base64_token(production: Settings) -> None:
    from pmis_deploy.aws.cache import replication_group_request

    with pytest.raises(RuleViolation):
        rules.check_replication_group_request(
            replication_group_request(production, "sg-1", "c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
        )


def test_load_balancer_needs_two_azs() -> None:
    rules.check_load_balancer_subnets({"subnet-a": "us-east-1a", "subnet-b": "us-east-1b"})
    with pytest.raises(RuleViolation, match="at least 2 Availability Zones"):
        rules.check_load_balancer_subnets({"subnet-a": "us-east-1a", "subnet-b": "us-east-1a"})


def test_private_subnets_need_two_azs() -> None:
    with pytest.raises(RuleViolation, match="2 AZs"):
        rules.check_private_subnets({"subnet-a": "us-east-1a"})


def test_target_groups_are_ip(production: Settings) -> None:
    from pmis_deploy.aws.loadbalancer import target_group_request

    for service in ("api", "web"):
        request = target_group_request(production, service, "vpc-1")
        rules.check_target_group_request(request)
        assert request["TargetType"] == "ip"
    with pytest.raises(RuleViolation, match="TargetType='ip'"):
        rules.check_target_group_request({**request, "TargetType": "instance"})


@pytest.mark.parametrize("role", ["api", "web", "worker", "rds", "redis"])
def test_blanket_cidr_only_allowed_on_the_load_balancer(role: str) -> None:
    perms = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    with pytest.raises(RuleViolation, match="blanket CIDR"):
        rules.check_ingress(role, perms)
    rules.check_ingress("alb", perms)


def test_desired_ingress_chains_groups_by_reference() -> None:
    from pmis_deploy.aws.network import desired_ingress

    ingress = desired_ingress()
    assert ingress["alb"] == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    assert ingress["api"] == [(8000, "alb")]
    assert ingress["web"] == [(3000, "alb")]
    assert ingress["worker"] == []
    assert ingress["rds"] == [(5432, "api"), (5432, "worker")]
    assert ingress["redis"] == [(6379, "api"), (6379, "worker")]
    for role, wanted in ingress.items():
        if role != "alb":
            assert all("/" not in source for _, source in wanted), role
