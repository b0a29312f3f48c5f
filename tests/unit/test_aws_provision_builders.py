"""Pure request builders of provisioning, checked by equality (no AWS involved)."""

from __future__ import annotations

import json

import pytest

from pmis_deploy.aws import iam, loadbalancer, monitoring, naming, network, registry, scaling, secrets, state_bucket
from pmis_deploy.aws.database import instance_drift, instance_request
from pmis_deploy.aws.datastore import subnet_group_changes
from pmis_deploy.aws.plan import Change, Ids, apply, create_once, describe_one, is_placeholder
from pmis_deploy.config import Settings, load_settings

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


@pytest.fixture
def staging() -> Settings:
    return load_settings("staging", environ={}).settings


def test_names(staging: Settings) -> None:
    assert naming.security_group(staging, "rds") == "pmis-staging-rds-sg"
    assert naming.db_instance(staging) == "pmis-staging-postgres"
    assert naming.replication_group(staging) == "pmis-staging-redis"
    assert naming.secret(staging, "database-url") == "pmis-staging/database-url"
    assert naming.repository(staging, "api") == "pmis-staging/api"
    assert naming.cluster(staging) == "pmis-staging"
    assert naming.log_group(staging) == "/ecs/pmis-staging"
    assert naming.state_bucket(staging, "123456789012") == "pmis-staging-deploy-state-123456789012"
    assert len(naming.load_balancer(staging)) <= 32 and len(naming.target_group(staging, "worker")) <= 32


def test_database_url_encodes_credentials() -> None:
    from sqlalchemy.engine import make_url

    password = "0]W?G0oteC|;@Bgkh'2fb5N3,eFNmJ6=/:%"  # what get-random-password returns, and worse
    url = secrets.database_url("pmis admin", password, "db.example", 5432, "pmis")
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "pmis admin",
        password,
        "db.example",
        5432,
        "pmis",
    )


def test_redis_url_is_tls_with_the_token() -> None:
    from redis.connection import ConnectionPool, SSLConnection

    url = secrets.redis_url("tok&en<>-!#$^", "master.pmis.cache.amazonaws.com", 6379)
    assert url.startswith("rediss://")
    pool = ConnectionPool.from_url(url)
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["password"] == "tok&en<>-!#$^"
    assert pool.connection_kwargs["host"] == "master.pmis.cache.amazonaws.com"


def test_ip_permissions_reference_groups_and_ranges() -> None:
    perms = network.ip_permissions(
        [("tcp", 5432, 5432, "sg-2"), ("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 5432, 5432, "sg-1")]
    )
    assert perms == [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-1"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-2"}]},
    ]


def test_existing_rules_flatten_a_described_group() -> None:
    group = {
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}],
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            }
        ]
    }
    assert network.existing_rules(group) == {
        ("tcp", 5432, 5432, "sg-1"),
        ("tcp", 5432, 5432, "sg-2"),
        ("tcp", 5432, 5432, "10.0.0.0/16"),
    }


def test_security_group_request_names_the_vpc(staging: Settings) -> None:
    request = network.security_group_request(staging, "api", "vpc-1")
    assert request["VpcId"] == "vpc-1" and request["GroupName"] == "pmis-staging-api-sg"


def test_instance_drift_none_when_matching(staging: Settings) -> None:
    want = instance_request(staging, "sg-1")
    current = {
        **{
            k: want[k]
            for k in (
                "DBInstanceClass",
                "MultiAZ",
                "DeletionProtection",
                "BackupRetentionPeriod",
                "MaxAllocatedStorage",
                "AllocatedStorage",
            )
        },
        "PubliclyAccessible": False,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
        "EnabledCloudwatchLogsExports": ["upgrade", "postgresql"],
        "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1"},
        "DBSubnetGroup": {"DBSubnetGroupName": "pmis-staging-db-subnets"},
    }
    assert instance_drift(staging, "sg-1", current) == {}
    assert instance_drift(staging, "sg-1", {**current, "MasterUserSecret": None}) == {"ManageMasterUserPassword": True}
    current.update(
        PubliclyAccessible=True, BackupRetentionPeriod=1, AllocatedStorage=500, EnabledCloudwatchLogsExports=[]
    )
    assert instance_drift(staging, "sg-1", current) == {
        "BackupRetentionPeriod": 30,
        "PubliclyAccessible": False,
        "CloudwatchLogsExportConfiguration": {"EnableLogTypes": ["postgresql", "upgrade"], "DisableLogTypes": []},
    }  # storage never shrinks


def test_listeners_without_certificate_serve_on_80(staging: Settings) -> None:
    assert loadbalancer.listener_requests(staging, "alb", "tg-web") == {
        80: {
            "LoadBalancerArn": "alb",
            "Protocol": "HTTP",
            "Port": 80,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": "tg-web"}],
        }
    }


def test_listeners_with_certificate_redirect_80_to_443(staging: Settings) -> None:
    staging.aws.certificate_arn = CERT
    wanted = loadbalancer.listener_requests(staging, "alb", "tg-web")
    assert wanted[80]["DefaultActions"] == [
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
    ]
    assert wanted[443]["Certificates"] == [{"CertificateArn": CERT}]
    assert wanted[443]["Protocol"] == "HTTPS"
    assert wanted[443]["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": "tg-web"}]


def test_api_rule_routes_api_and_health(staging: Settings) -> None:
    rule = loadbalancer.api_rule_request("listener", "tg-api")
    assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*", "/health"]}}]
    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": "tg-api"}]


def test_action_key_treats_forward_config_like_target_group_arn() -> None:
    plain = [{"Type": "forward", "TargetGroupArn": "tg"}]
    config = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg", "Weight": 1}]}}]
    assert loadbalancer.action_key(plain) == loadbalancer.action_key(config) == [("forward", "tg")]


def test_target_group_health_checks(staging: Settings) -> None:
    api = loadbalancer.target_group_request(staging, "api", "vpc-1")
    web = loadbalancer.target_group_request(staging, "web", "vpc-1")
    assert (api["Port"], api["HealthCheckPath"], api["VpcId"]) == (8000, "/health", "vpc-1")
    assert (web["Port"], web["HealthCheckPath"]) == (3000, "/")


def test_load_balancer_request_uses_public_subnets_and_alb_group(staging: Settings) -> None:
    net = network.Network("vpc-1", ("subnet-b", "subnet-a"), ("subnet-p",), {"alb": "sg-alb"})
    request = loadbalancer.load_balancer_request(staging, net)
    assert request["Subnets"] == ["subnet-a", "subnet-b"]
    assert request["SecurityGroups"] == ["sg-alb"]
    assert request["Scheme"] == "internet-facing" and request["Type"] == "application"


def test_ecr_repository_and_lifecycle(staging: Settings) -> None:
    staging.aws.ecr_keep_images = 7
    request = registry.repository_request(staging, "worker")
    assert request["imageTagMutability"] == "IMMUTABLE"
    assert request["imageScanningConfiguration"] == {"scanOnPush": True}
    assert registry.lifecycle_policy(7)["rules"][0]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 7,
    }


def test_execution_role_reads_exactly_our_secrets() -> None:
    arns = ["arn:aws:secretsmanager:us-east-1:1:secret:b-XXXXXX", "arn:aws:secretsmanager:us-east-1:1:secret:a-YYYYYY"]
    policies = iam.execution_policies(["arn:repo"], "arn:aws:logs:r:1:log-group:/ecs/x", arns)
    statement = policies["read-secrets"]["Statement"]
    assert statement == [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(arns)}]
    assert "*" not in json.dumps(policies["read-secrets"])
    assert policies["write-logs"]["Statement"][0]["Resource"] == [
        "arn:aws:logs:r:1:log-group:/ecs/x",
        "arn:aws:logs:r:1:log-group:/ecs/x:*",
    ]


def test_execution_role_decrypts_only_with_a_customer_key_through_secrets_manager() -> None:
    arns = ["arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1-XXXXXX"]
    key = "arn:aws:kms:eu-west-1:1:key/0a1b"
    statement = iam.execution_policies([], "arn:aws:logs:r:1:log-group:/ecs/x", arns, [key, key])["read-secrets"][
        "Statement"
    ]
    assert statement[1:] == [
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}},
        }
    ]
    assert len(iam.execution_policies([], "arn:l", arns, [])["read-secrets"]["Statement"]) == 1


def test_database_url_credentials_read_back_and_new_passwords() -> None:
    password = secrets.new_password()
    assert len(password) == 48 and password != secrets.new_password()
    url = secrets.database_url("pmis_app", password, "db.example", 5432, "pmis")
    assert secrets.credentials_of(url) == ("pmis_app", password)
    awkward = "p@ss:w/rd%'"
    assert secrets.credentials_of(secrets.database_url("a b", awkward, "h", 1, "d")) == ("a b", awkward)
    assert secrets.credentials_of(None) is None
    assert secrets.credentials_of("postgresql+psycopg://user@h:1/d") is None  # no password


def test_app_user_must_be_a_role_of_its_own() -> None:
    from pydantic import ValidationError

    from pmis_deploy.aws.settings import AwsDatabase

    assert AwsDatabase().app_user == "pmis_app"
    for bad in ("pmis_admin", "PMIS_APP", "pg_app", "rdsadmin", "1app"):
        with pytest.raises(ValidationError):
            AwsDatabase(app_user=bad)


def test_scaling_requests(staging: Settings) -> None:
    target = scaling.scalable_target_request(staging, "pmis-staging")
    assert target == {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/pmis-staging/pmis-staging-api",
        "ScalableDimension": "ecs:service:DesiredCount",
        "MinCapacity": 2,
        "MaxCapacity": 10,
    }
    policy = scaling.policy_request(staging, "pmis-staging")
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    assert policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }


def test_alarms_and_dashboard(staging: Settings) -> None:
    targets = monitoring.Targets(
        load_balancer=monitoring.arn_suffix("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/123", "loadbalancer/"),
        target_groups={
            "api": monitoring.arn_suffix("arn:aws:elasticloadbalancing:r:1:targetgroup/a/1", "targetgroup/")
        },
        cluster="c",
        db_instance="db",
        replication_group="rg",
    )
    assert targets.load_balancer == "app/x/123" and targets.target_groups["api"] == "targetgroup/a/1"
    alarms = {a["AlarmName"]: a for a in monitoring.alarm_requests(staging, targets)}
    for what in (
        "alb-5xx",
        "api-5xx",
        "api-unhealthy-hosts",
        "api-cpu",
        "worker-memory",
        "rds-cpu",
        "rds-free-storage",
        "rds-connections",
    ):
        assert f"pmis-staging-{what}" in alarms
    assert alarms["pmis-staging-rds-free-storage"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["pmis-staging-api-cpu"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": "c"},
        {"Name": "ServiceName", "Value": "pmis-staging-api"},
    ]
    assert alarms["pmis-staging-alb-5xx"]["AlarmActions"] == []
    staging.aws.alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:ops"
    assert monitoring.alarm_requests(staging, targets)[0]["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:ops"]
    body = monitoring.dashboard_body(staging, targets)
    assert json.loads(json.dumps(body)) == body and len(body["widgets"]) == 6


def test_state_bucket_request_location() -> None:
    assert state_bucket.bucket_request("b", "us-east-1") == {"Bucket": "b"}
    assert state_bucket.bucket_request("b", "eu-west-1") == {
        "Bucket": "b",
        "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"},
    }


def test_ids_read_as_placeholders_until_set() -> None:
    ids = Ids()
    assert is_placeholder(ids["sg:api"]) and ids["sg:api"] == "<new sg:api>"
    ids["sg:api"] = "sg-1"
    assert ids["sg:api"] == "sg-1" and not is_placeholder("sg-1")


def test_apply_runs_changes_in_order() -> None:
    ran: list[str] = []
    apply(
        [
            Change("a", "create", run=lambda: ran.append("a")),
            Change("b", "update"),
            Change("c", "create", run=lambda: ran.append("c")),
        ]
    )
    assert ran == ["a", "c"]
    assert Change("x", "create", "d").row() == ("create", "x", "d")


def test_new_private_cidrs_must_be_inside_the_vpc_and_free() -> None:
    from pmis_deploy.errors import ConfigError

    network.check_free_cidr("172.31.96.0/20", "vpc-1", ["172.31.0.0/16"], ["172.31.0.0/20", "172.31.16.0/20"])
    with pytest.raises(ConfigError, match="outside vpc-1"):
        network.check_free_cidr("10.0.1.0/24", "vpc-1", ["172.31.0.0/16"], [])
    with pytest.raises(ConfigError, match="overlaps existing subnet"):
        network.check_free_cidr("172.31.8.0/24", "vpc-1", ["172.31.0.0/16"], ["172.31.0.0/20"])


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, "Op")


def test_describe_one_reads_the_first_item_and_none_for_the_missing_code() -> None:
    def describe(**request: str) -> dict[str, list[dict[str, str]]]:
        if request["Id"] == "gone":
            raise _client_error("NotFoundFault")
        if request["Id"] == "denied":
            raise _client_error("AccessDenied")
        return {"Items": [{"Id": request["Id"]}, {"Id": "other"}]}

    assert describe_one(describe, "Items", "NotFoundFault", Id="x") == {"Id": "x"}
    assert describe_one(describe, "Items", "NotFoundFault", Id="gone") is None
    with pytest.raises(Exception, match="AccessDenied"):
        describe_one(describe, "Items", "NotFoundFault", Id="denied")


def test_create_once_treats_already_exists_as_done() -> None:
    calls: list[dict[str, str]] = []

    def create(**request: str) -> None:
        calls.append(request)
        raise _client_error(request["Code"])

    create_once(create, "AlreadyExists", Code="AlreadyExists")
    with pytest.raises(Exception, match="LimitExceeded"):
        create_once(create, "AlreadyExists", Code="LimitExceeded")
    assert calls == [{"Code": "AlreadyExists"}, {"Code": "LimitExceeded"}]


def test_subnet_group_changes_create_update_or_nothing() -> None:
    def create() -> None: ...
    def update() -> None: ...

    made = subnet_group_changes("group g", None, ["s2", "s1"], create, update)
    assert [(c.row(), c.run) for c in made] == [(("create", "group g", "2 private subnets"), create)]
    current = {"Subnets": [{"SubnetIdentifier": "s1"}, {"SubnetIdentifier": "s3"}]}
    changed = subnet_group_changes("group g", current, ["s2", "s1"], create, update)
    assert [(c.row(), c.run) for c in changed] == [(("update", "group g", "subnets → s1, s2"), update)]
    same = {"Subnets": [{"SubnetIdentifier": "s2"}, {"SubnetIdentifier": "s1"}]}
    assert subnet_group_changes("group g", same, ["s1", "s2"], create, update) == []
