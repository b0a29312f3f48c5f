"""IAM: the task execution role (pull from our ECR repositories, write our log group, read exactly our
secrets' ARNs — the app secrets and the RDS-managed master secret, which ECS injects into the migration
task only — and decrypt with that secret's KMS key when it is a customer key) and the task role (what the
running app may do: ECS Exec channels only).

Policies are inline and least-privilege, compared as documents so a second run changes nothing.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pmis_deploy.aws import naming
from pmis_deploy.aws.plan import Change, error_code

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

VERSION = "2012-10-17"
ECS_TASKS_TRUST = {
    "Version": VERSION,
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def execution_policies(
    repository_arns: list[str], log_group_arn: str, secret_arns: list[str], kms_key_arns: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Inline policies of the execution role, by policy name; `kms_key_arns`: customer keys of secrets."""
    policies: dict[str, dict[str, Any]] = {
        "pull-images": {
            "Version": VERSION,
            "Statement": [
                {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": sorted(repository_arns),
                },
            ],
        },
        "write-logs": {
            "Version": VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                }
            ],
        },
        "read-secrets": {
            "Version": VERSION,
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(set(secret_arns))}
            ],
        },
    }
    for key in sorted(set(kms_key_arns or ())):
        region = key.split(":")[3]
        policies["read-secrets"]["Statement"].append(
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            }
        )
    return policies


def task_policies() -> dict[str, dict[str, Any]]:
    """Inline policies of the task role: the SSM channels ECS Exec needs, nothing else."""
    return {
        "ecs-exec": {
            "Version": VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                    "Resource": "*",
                }
            ],
        }
    }


def log_group_arn(settings: Settings, account_id: str) -> str:
    return f"arn:aws:logs:{settings.aws.region}:{account_id}:log-group:{naming.log_group(settings)}"


def _document(value: Any) -> Any:
    """A policy document as returned by IAM (a dict, or URL-encoded JSON) → a dict."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _get_role(aws: AwsClients, name: str) -> dict[str, Any] | None:
    try:
        return dict(aws.client("iam").get_role(RoleName=name)["Role"])
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def _get_policy(aws: AwsClients, role: str, policy: str) -> Any:
    try:
        return _document(aws.client("iam").get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"])
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def plan_role(
    aws: AwsClients, settings: Settings, name: str, purpose: str, policies: dict[str, dict[str, Any]]
) -> list[Change]:
    iam = aws.client("iam")
    changes: list[Change] = []
    role = _get_role(aws, name)
    trust = json.dumps(ECS_TASKS_TRUST)
    if role is None:
        changes.append(
            Change(
                f"IAM role {name}",
                "create",
                purpose,
                lambda: iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=trust,
                    Description=f"{settings.name()} {purpose}",
                    Tags=[
                        {"Key": "Project", "Value": settings.project},
                        {"Key": "Environment", "Value": settings.environment.value},
                    ],
                ),
            )
        )
    elif _document(role.get("AssumeRolePolicyDocument")) != ECS_TASKS_TRUST:
        changes.append(
            Change(
                f"IAM role {name}",
                "update",
                "trust ecs-tasks.amazonaws.com only",
                lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust),
            )
        )
    for policy_name, document in policies.items():
        if role is not None and _get_policy(aws, name, policy_name) == document:
            continue
        text = json.dumps(document)
        changes.append(
            Change(
                f"IAM role {name}",
                "update" if role else "create",
                f"inline policy {policy_name}",
                partial(iam.put_role_policy, RoleName=name, PolicyName=policy_name, PolicyDocument=text),
            )
        )
    return changes


def plan(
    aws: AwsClients,
    settings: Settings,
    *,
    account_id: str,
    repository_arns: list[str],
    secret_arns: list[str],
    kms_key_arns: list[str] | None = None,
) -> list[Change]:
    execution = execution_policies(repository_arns, log_group_arn(settings, account_id), secret_arns, kms_key_arns)
    return plan_role(aws, settings, naming.execution_role(settings), "ECS task execution role", execution) + plan_role(
        aws, settings, naming.task_role(settings), "ECS task role", task_policies()
    )


def read(aws: AwsClients, settings: Settings) -> tuple[str, str]:
    """(execution role ARN, task role ARN); placeholders for missing roles."""
    out = []
    for name in (naming.execution_role(settings), naming.task_role(settings)):
        role = _get_role(aws, name)
        out.append(str(role["Arn"]) if role else f"<new role {name}>")
    return out[0], out[1]
