"""Secrets Manager: the app's secrets (database-url, redis-url, celery-broker, azure-openai-key) and the
ElastiCache AUTH token, converged. A new version is written only when the value changes.

database-url names the apps' own least-privilege role (settings.aws.database.app_user), never the RDS
master: its password is generated here once and then read back from the secret and kept, so the URL
changes only with the endpoint, the database or the role name. RDS rotating its managed master secret
(every 7 days) therefore changes nothing the services use. The migration task alone receives the
master credentials (by ECS JSON-key reference, read at its start, so always current) and creates or
updates the role before `alembic upgrade head` (apps/api/app/dbbootstrap.py).

Values are built here from their sources — the app user's password, the AUTH token secret and the
endpoints — with URL-encoded credentials, registered for redaction, never shown.
"""

from __future__ import annotations

import secrets as random_tokens
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, error_code, placeholder
from pmis_deploy.errors import DeployError
from pmis_deploy.redaction import register_secret

if TYPE_CHECKING:
    from pmis_deploy.aws.cache import Cache
    from pmis_deploy.aws.database import Database
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

DATABASE_SCHEME = "postgresql+psycopg"  # SQLAlchemy URL of the apps (psycopg 3)
NOT_FOUND = ("ResourceNotFoundException",)
SET_HINT = "set it with `inv secrets.set azure-openai-key` (the value is read without echo)"


def database_url(username: str, password: str, address: str, port: int, db_name: str) -> str:
    """postgresql+psycopg://user:pass@host:port/db with the credentials URL-encoded."""
    return f"{DATABASE_SCHEME}://{quote(username, safe='')}:{quote(password, safe='')}@{address}:{port}/{db_name}"


def credentials_of(url: str | None) -> tuple[str, str] | None:
    """(username, password), decoded, of a database URL; None when it has no user or no password."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.username or not parts.password:
        return None
    password = unquote(parts.password)
    register_secret(password)
    return unquote(parts.username), password


def new_password() -> str:
    """48 hex characters (192 bits): URL-safe and free of quoting concerns."""
    password = random_tokens.token_hex(24)
    register_secret(password)
    return password


def redis_url(token: str, address: str, port: int, db: int = 0) -> str:
    """rediss:// (TLS: transit encryption is on) with the AUTH token URL-encoded."""
    return f"rediss://:{quote(token, safe='')}@{address}:{port}/{db}"


def create_request(settings: Settings, logical: str, value: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Name": naming.secret(settings, logical),
        "Description": f"{settings.project} {settings.environment.value} {logical}",
        "Tags": [
            {"Key": "Project", "Value": settings.project},
            {"Key": "Environment", "Value": settings.environment.value},
        ],
    }
    if value is not None:
        request["SecretString"] = value
    return request


# ---------------------------------------------------------------------------------------------- reads


def describe(aws: AwsClients, name: str) -> dict[str, Any] | None:
    try:
        return dict(aws.client("secretsmanager").describe_secret(SecretId=name))
    except Exception as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise


def current_value(aws: AwsClients, name: str) -> str | None:
    """The AWSCURRENT value of a secret (None if the secret or its value does not exist)."""
    try:
        value = aws.client("secretsmanager").get_secret_value(SecretId=name).get("SecretString")
    except Exception as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise
    if value is not None:
        register_secret(value)
    return value


def current_version(aws: AwsClients, name: str) -> str | None:
    """The AWSCURRENT version id of a secret (None if it does not exist or has no value)."""
    return _current_version(describe(aws, name))


def _current_version(description: dict[str, Any] | None) -> str | None:
    stages = (description or {}).get("VersionIdsToStages") or {}
    return next((str(version) for version, labels in stages.items() if "AWSCURRENT" in labels), None)


def arns_and_versions(
    aws: AwsClients, settings: Settings, logical_names: tuple[str, ...] = naming.APP_SECRETS
) -> tuple[dict[str, str], dict[str, str]]:
    """One describe per secret: full ARNs (placeholders if missing), and AWSCURRENT version ids (of those
    that have a value)."""
    found_arns, versions = {}, {}
    for logical in logical_names:
        found = describe(aws, naming.secret(settings, logical))
        found_arns[logical] = str(found["ARN"]) if found else placeholder(naming.secret(settings, logical))
        if version := _current_version(found):
            versions[logical] = version
    return found_arns, versions


def arns(aws: AwsClients, settings: Settings, logical_names: tuple[str, ...] = naming.APP_SECRETS) -> dict[str, str]:
    """Full ARNs (with their random suffix) of the environment's secrets; placeholders if missing."""
    return arns_and_versions(aws, settings, logical_names)[0]


def kept_versions(aws: AwsClients, arn: str) -> set[str]:
    """Every version id Secrets Manager still keeps for `arn`, deprecated ones included (botocore has no
    paginator for ListSecretVersionIds)."""
    sm = aws.client("secretsmanager")
    found: set[str] = set()
    token: dict[str, str] = {}
    while True:
        page = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True, MaxResults=100, **token)
        found.update(str(v["VersionId"]) for v in page.get("Versions", []))
        if not page.get("NextToken"):
            return found
        token = {"NextToken": page["NextToken"]}


# ---------------------------------------------------------------------------------------------- writes


def put_value(aws: AwsClients, settings: Settings, logical: str, value: str | None, *, exists: bool = False) -> str:
    """Create the secret (with `value`, or empty) or add a version (directly when it `exists`); its ARN."""
    sm = aws.client("secretsmanager")
    if value is not None:
        register_secret(value)
    if exists and value is not None:
        return str(sm.put_secret_value(SecretId=naming.secret(settings, logical), SecretString=value)["ARN"])
    try:
        return str(sm.create_secret(**create_request(settings, logical, value))["ARN"])
    except Exception as exc:
        if error_code(exc) != "ResourceExistsException":
            raise
    if value is None:
        return str(sm.describe_secret(SecretId=naming.secret(settings, logical))["ARN"])
    return str(sm.put_secret_value(SecretId=naming.secret(settings, logical), SecretString=value)["ARN"])


def plan_value(aws: AwsClients, settings: Settings, logical: str, desired: str | None, why: str = "") -> list[Change]:
    """Changes that make secret `logical` hold `desired` (None: exists, value left to the user)."""
    name = naming.secret(settings, logical)
    exists = describe(aws, name) is not None
    if desired is None:
        if exists:
            return []
        return [
            Change(
                f"secret {name}", "create", "no value yet: " + SET_HINT, lambda: put_value(aws, settings, logical, None)
            )
        ]
    register_secret(desired)
    if exists and current_value(aws, name) == desired:
        return []
    detail = ("new version" if exists else "first version") + (f" ({why})" if why else "")
    return [
        Change(
            f"secret {name}",
            "update" if exists else "create",
            detail,
            lambda: put_value(aws, settings, logical, desired, exists=exists),
        )
    ]


# ---------------------------------------------------------------------------------------------- app secrets


@dataclass(frozen=True)
class Sources:
    """What the app secrets are built from (None: not there yet, only possible while planning)."""

    database: Database | None
    cache: Cache | None


def app_database_url(aws: AwsClients, settings: Settings, db: Database) -> tuple[str, str, str | None]:
    """(database-url value, why it would change, the user the current value names) — the app user's
    URL with the password of the current value when it already names that user, else a new one."""
    app_user = settings.aws.database.app_user
    current = credentials_of(current_value(aws, naming.secret(settings, "database-url")))
    if current is not None and current[0] == app_user:
        password, why = current[1], "endpoint or database changed"
    else:
        password, why = new_password(), f"app user {app_user}, new password"
    url = database_url(app_user, password, db.address, db.port, db.db_name)
    return url, why, current[0] if current else None


def auth_token(aws: AwsClients, settings: Settings) -> str | None:
    return current_value(aws, naming.secret(settings, "redis-auth-token"))


def plan_app_secrets(aws: AwsClients, settings: Settings, sources: Sources) -> tuple[list[Change], list[str]]:
    """Changes for database-url, redis-url, celery-broker, azure-openai-key; and notes for the user."""
    changes: list[Change] = []
    notes: list[str] = []
    if sources.database is None:
        changes.append(
            Change(
                f"secret {naming.secret(settings, 'database-url')}",
                "create",
                f"app user {settings.aws.database.app_user}, new password (the migration task creates the role)",
            )
        )
    else:
        url, why, previous_user = app_database_url(aws, settings, sources.database)
        db_changes = plan_value(aws, settings, "database-url", url, why)
        changes += db_changes
        app_user = settings.aws.database.app_user
        if db_changes and previous_user not in (None, app_user):
            notes.append(
                f"database-url now names the app user {app_user} instead of {previous_user}: run "
                f"`inv deploy.aws --env {settings.environment.value}` now (its migration task creates the role); "
                "tasks started before keep the old URL until they are replaced (a deploy that rolls the "
                "services, or an ECS force-new-deployment)"
            )
    token = auth_token(aws, settings) if sources.cache is not None else None
    for logical in ("redis-url", "celery-broker"):
        if sources.cache is None:
            changes.append(
                Change(f"secret {naming.secret(settings, logical)}", "create", "from the new replication group")
            )
        elif token is None:
            raise DeployError(
                f"the ElastiCache AUTH token secret {naming.secret(settings, 'redis-auth-token')} is missing, "
                f"so {logical} cannot be built",
                hint="rotate the token: modify-replication-group --auth-token <new> --auth-token-update-strategy "
                "ROTATE, then store it with `inv secrets.set redis-auth-token`",
            )
        else:
            changes += plan_value(aws, settings, logical, redis_url(token, sources.cache.address, sources.cache.port))
    key = settings.secrets.azure_openai_api_key
    key_changes = plan_value(aws, settings, "azure-openai-key", key.get_secret_value() if key else None)
    changes += key_changes
    if key is None and (key_changes or current_value(aws, naming.secret(settings, "azure-openai-key")) is None):
        notes.append(f"secret {naming.secret(settings, 'azure-openai-key')} has no value: {SET_HINT}")
    return changes, notes


# ---------------------------------------------------------------------------------------------- `inv secrets.*`

# Secrets the user sets; the others are built by provisioning from RDS/ElastiCache credentials.
USER_SECRETS = ("azure-openai-key", "redis-auth-token")


def set_secret(aws: AwsClients, settings: Settings, logical: str, value: str) -> Change | None:
    """Store `value` as secret `logical` (a new version only when it differs); the change, or None."""
    if logical not in USER_SECRETS:
        managed = logical in naming.SECRET_NAMES
        raise DeployError(
            f"secret {logical!r} " + ("is built by provisioning" if managed else "is not a PMIS secret"),
            hint=f"set one of: {', '.join(USER_SECRETS)}"
            + ("; database-url, redis-url and celery-broker come from `inv provision.aws`" if managed else ""),
        )
    if not value:
        raise DeployError("empty value: nothing stored", hint="type or pipe the value (it is not echoed)")
    register_secret(value)
    if logical == "redis-auth-token":
        from pmis_deploy.aws.rules import check_auth_token

        check_auth_token(value)
    changes = plan_value(aws, settings, logical, value)
    if not aws.dry_run:
        for change in changes:
            if change.run:
                change.run()
    return changes[0] if changes else None


def list_secrets(aws: AwsClients, settings: Settings) -> list[tuple[str, str, str]]:
    """(name, has a value, last changed) for every PMIS secret of the environment — never values."""
    rows = []
    for logical in naming.SECRET_NAMES:
        name = naming.secret(settings, logical)
        found = describe(aws, name)
        if found is None:
            rows.append((name, "missing", ""))
            continue
        has_value = any("AWSCURRENT" in stages for stages in (found.get("VersionIdsToStages") or {}).values())
        changed = found.get("LastChangedDate") or found.get("CreatedDate") or ""
        rows.append((name, "yes" if has_value else "no value", str(changed)))
    return rows


def read_value(*, from_stdin: bool, stdin: Any = None, prompt: Any = None) -> str:
    """The secret value from stdin (piped) or an echo-less prompt; never from the command line."""
    import getpass
    import sys

    if from_stdin:
        return str((stdin or sys.stdin).read()).rstrip("\r\n")
    return str((prompt or getpass.getpass)("value (not echoed): "))
