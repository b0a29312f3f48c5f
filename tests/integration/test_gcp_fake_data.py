"""The real gcloud CLI against the fake GCP: Cloud SQL, Redis, Artifact Registry, Secret Manager, IAM."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.gcloud]

REGION = "--region=us-central1"
SA = "app-runtime@pmis-local.iam.gserviceaccount.com"


def test_cloud_sql_instance_database_and_users(gcloud_cli, gcp_fake):
    # a private IP needs private services access on the network first (the fake refuses it otherwise, as GCP)
    psa = ("--global", "--purpose=VPC_PEERING", "--prefix-length=16", "--network=default")
    gcloud_cli("compute", "addresses", "create", "psa-range", *psa)
    gcloud_cli("services", "vpc-peerings", "connect", "--ranges=psa-range", "--network=default")
    created = gcloud_cli(
        "sql",
        "instances",
        "create",
        "db1",
        "--database-version=POSTGRES_15",
        "--tier=db-custom-1-3840",
        REGION,
        "--availability-type=REGIONAL",
        "--enable-point-in-time-recovery",
        "--retained-backups-count=30",
        "--backup-start-time=03:00",
        "--storage-size=10",
        "--no-assign-ip",
        "--network=projects/pmis-local/global/networks/default",
    ).data
    assert created["connectionName"] == "pmis-local:us-central1:db1"
    described = gcloud_cli("sql", "instances", "describe", "db1").data
    settings = described["settings"]
    assert described["databaseVersion"] == "POSTGRES_15"
    assert settings["availabilityType"] == "REGIONAL"
    backup = settings["backupConfiguration"]
    assert backup["pointInTimeRecoveryEnabled"] is True
    assert backup["backupRetentionSettings"]["retainedBackups"] == 30
    assert "binaryLogEnabled" not in backup
    assert [ip["type"] for ip in described["ipAddresses"]] == ["PRIVATE"]

    gcloud_cli("sql", "databases", "create", "app", "--instance=db1")
    assert "app" in {d["name"] for d in gcloud_cli("sql", "databases", "list", "--instance=db1").data}
    gcloud_cli("sql", "users", "create", "pmis_app", "--instance=db1", "--password=first-Secret-1")
    gcloud_cli("sql", "users", "set-password", "pmis_app", "--instance=db1", "--password=second-Secret-2")
    users = gcloud_cli("sql", "users", "list", "--instance=db1").data
    assert [u["name"] for u in users] == ["pmis_app"]
    assert gcp_fake.table("sql.users")["pmis-local/db1/pmis_app@"]["passwordChanges"] == 2

    # The request log keeps the bodies (flags can be asserted) but never a password.
    log = json.dumps(gcp_fake.requests("sql"))
    assert "first-Secret-1" not in log and "second-Secret-2" not in log
    insert = next(r for r in gcp_fake.requests("sql") if r["method"] == "POST" and r["path"].endswith("/instances"))
    assert insert["body"]["settings"]["availabilityType"] == "REGIONAL"
    assert insert["body"]["settings"]["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    users_post = [
        r for r in gcp_fake.requests("sql") if r["path"].endswith("/users") and r["method"] in ("POST", "PUT")
    ]
    assert {r["body"]["password"] for r in users_post} == {"<redacted>"}

    missing = gcloud_cli("sql", "instances", "describe", "nope", check=False)
    assert missing.rc == 1


def test_redis_registry_secrets_and_iam(gcloud_cli, gcp_fake, tmp_path):
    redis = gcloud_cli(
        "redis",
        "instances",
        "create",
        "cache1",
        REGION,
        "--tier=standard",
        "--size=1",
        "--enable-auth",
        "--redis-version=redis_7_0",
        "--transit-encryption-mode=server-authentication",
    ).data
    assert (redis["tier"], redis["authEnabled"], redis["port"], redis["redisVersion"]) == (
        "STANDARD_HA",
        True,
        6378,
        "REDIS_7_0",
    )
    auth = gcloud_cli("redis", "instances", "get-auth-string", "cache1", REGION).data["authString"]
    assert len(auth) >= 16
    assert auth not in json.dumps(gcp_fake.requests())

    gcloud_cli("artifacts", "repositories", "create", "app", "--repository-format=docker", "--location=us-central1")
    repo = gcloud_cli("artifacts", "repositories", "describe", "app", "--location=us-central1").data
    assert (repo["name"], repo["format"]) == ("projects/pmis-local/locations/us-central1/repositories/app", "DOCKER")

    payload = tmp_path / "pw.txt"
    payload.write_text("Very-Secret-Value-42")
    gcloud_cli("secrets", "create", "db-password", "--replication-policy=automatic")
    gcloud_cli("secrets", "versions", "add", "db-password", f"--data-file={payload}")
    payload.write_text("Very-Secret-Value-43")
    gcloud_cli("secrets", "versions", "add", "db-password", f"--data-file={payload}")
    latest = gcloud_cli("secrets", "versions", "access", "latest", "--secret=db-password", fmt=None).stdout
    first = gcloud_cli("secrets", "versions", "access", "1", "--secret=db-password", fmt=None).stdout
    assert (latest, first) == ("Very-Secret-Value-43", "Very-Secret-Value-42")
    versions = gcloud_cli("secrets", "versions", "list", "db-password").data
    assert [v["name"].rsplit("/", 1)[1] for v in versions] == ["2", "1"]
    assert "Very-Secret-Value" not in json.dumps(gcp_fake.requests())

    gcloud_cli("iam", "service-accounts", "create", "app-runtime", "--display-name=PMIS runtime")
    assert gcloud_cli("iam", "service-accounts", "describe", SA).data["displayName"] == "PMIS runtime"
    policy = gcloud_cli(
        "projects",
        "add-iam-policy-binding",
        "pmis-local",
        f"--member=serviceAccount:{SA}",
        "--role=roles/cloudsql.client",
        "--condition=None",
    ).data
    assert {"role": "roles/cloudsql.client", "members": [f"serviceAccount:{SA}"]} in policy["bindings"]
    ghost = gcloud_cli(
        "projects",
        "add-iam-policy-binding",
        "pmis-local",
        "--member=serviceAccount:ghost@pmis-local.iam.gserviceaccount.com",
        "--role=roles/cloudsql.client",
        "--condition=None",
        check=False,
    )
    assert ghost.rc == 1 and "does not exist" in ghost.stderr
    secret_policy = gcloud_cli(
        "secrets",
        "add-iam-policy-binding",
        "db-password",
        f"--member=serviceAccount:{SA}",
        "--role=roles/secretmanager.secretAccessor",
    ).data
    assert secret_policy["bindings"] == [
        {"members": [f"serviceAccount:{SA}"], "role": "roles/secretmanager.secretAccessor"}
    ]
