"""Converge the AWS infrastructure of one environment: `provision(aws, settings, dry_run=…)`.

Order (each stage plans from reads, then applies, so the next stage plans against what exists):

    network → {RDS, ElastiCache, ECR, ECS cluster + log group, state bucket} in parallel threads
            → secrets → IAM roles → load balancer → dashboard + alarms → api autoscaling (if the service exists)

In dry-run (`AwsClients(dry_run=True)`, which refuses every mutating call) every stage only plans;
resources that do not exist yet appear as placeholders (`<new …>`) in later stages' plans.
A converged environment plans no change, so a second run makes no mutating call.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pmis_deploy.aws import (
    cache,
    cluster,
    database,
    iam,
    loadbalancer,
    monitoring,
    naming,
    network,
    registry,
    scaling,
    secrets,
    state_bucket,
)
from pmis_deploy.aws.infra import AwsInfra
from pmis_deploy.aws.plan import Change, apply, is_placeholder, placeholder
from pmis_deploy.errors import DeployError, NotFound

if TYPE_CHECKING:
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.config import Settings

T = TypeVar("T")

__all__ = ["Change", "ProvisionResult", "provision", "read_infra", "render"]


@dataclass
class ProvisionResult:
    infra: AwsInfra | None  # None in dry-run
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class _Converger:
    def __init__(self, aws: AwsClients, settings: Settings, dry_run: bool) -> None:
        self.aws, self.settings, self.dry_run = aws, settings, dry_run
        self.changes: list[Change] = []
        self.notes: list[str] = []

    def run(self, changes: list[Change]) -> list[Change]:
        if not self.dry_run:
            apply(changes)
        return changes

    def stage(self, name: str, body: Callable[[], T]) -> T:
        from pmis_deploy.console import step

        with step(name):
            return body()


def provision(aws: AwsClients, settings: Settings, *, dry_run: bool | None = None) -> ProvisionResult:
    """Plan and (unless dry_run) apply every change that converges the environment's infrastructure.

    `dry_run` defaults to `aws.dry_run`; a dry run needs dry-run clients (they refuse every write).
    """
    dry_run = aws.dry_run if dry_run is None else dry_run
    if dry_run != aws.dry_run:
        raise DeployError(
            f"provision(dry_run={dry_run}) with AwsClients(dry_run={aws.dry_run})",
            hint="this is a bug in the caller: pass clients made with the same dry_run",
        )
    c = _Converger(aws, settings, dry_run)
    account_id = aws.account_id()
    bucket = naming.state_bucket(settings, account_id)

    def network_stage() -> network.Network:
        changes, ids = network.plan(aws, settings)
        c.changes += c.run(changes)
        return network.read(aws, settings, ids)

    net = c.stage("network: VPC, subnets, security groups", network_stage)

    def data_stage() -> tuple[database.Database | None, cache.Cache | None]:
        jobs: dict[str, Callable[[], tuple[list[Change], Any]]] = {
            "rds": lambda: _converge_then_read(
                c, lambda: database.plan(aws, settings, net), lambda: _read_store(database.read, aws, settings, dry_run)
            ),
            "redis": lambda: _converge_then_read(
                c, lambda: cache.plan(aws, settings, net), lambda: _read_store(cache.read, aws, settings, dry_run)
            ),
            "ecr": lambda: (c.run(registry.plan(aws, settings)), None),
            "cluster": lambda: (c.run(cluster.plan(aws, settings)), None),
            "state": lambda: (c.run(state_bucket.plan(aws, settings, bucket)), None),
        }
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="provision") as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            results = {name: f.result() for name, f in futures.items()}  # re-raises the first failure
        for name in jobs:
            c.changes += results[name][0]
        return results["rds"][1], results["redis"][1]

    db, redis = c.stage("RDS, ElastiCache, ECR, ECS cluster, state bucket (in parallel)", data_stage)

    def secrets_stage() -> None:
        changes, notes = secrets.plan_app_secrets(aws, settings, secrets.Sources(db, redis))
        c.changes += c.run(changes)
        c.notes += notes

    c.stage("secrets", secrets_stage)

    def iam_stage() -> None:
        repos = registry.describe(aws, settings)
        repo_arns = [
            str(repos[s]["repositoryArn"]) if s in repos else f"<new {naming.repository(settings, s)}>"
            for s in naming.SERVICES
        ]
        # exactly the app's secrets, and the RDS-managed master secret (the migration task's admin login)
        secret_arns = list(secrets.arns(aws, settings).values())
        secret_arns.append(db.master_secret_arn if db else placeholder("RDS-managed master secret"))
        keys = [db.master_secret_kms_key] if db and db.master_secret_kms_key else []
        c.changes += c.run(
            iam.plan(
                aws,
                settings,
                account_id=account_id,
                repository_arns=repo_arns,
                secret_arns=secret_arns,
                kms_key_arns=keys,
            )
        )

    c.stage("IAM roles", iam_stage)

    def lb_stage() -> loadbalancer.LoadBalancer:
        c.changes += c.run(loadbalancer.plan(aws, settings, net))
        return loadbalancer.read(aws, settings)

    lb = c.stage("load balancer", lb_stage)
    cluster_name, cluster_arn = cluster.read(aws, settings)

    def monitoring_stage() -> None:
        targets = monitoring.Targets(
            load_balancer=monitoring.arn_suffix(lb.arn, "loadbalancer/"),
            target_groups={s: monitoring.arn_suffix(a, "targetgroup/") for s, a in lb.target_groups.items()},
            cluster=cluster_name,
            db_instance=naming.db_instance(settings),
            replication_group=naming.replication_group(settings),
        )
        c.changes += c.run(monitoring.plan(aws, settings, targets))

    c.stage("dashboard and alarms", monitoring_stage)

    def scaling_stage() -> None:
        if is_placeholder(cluster_arn) or not scaling.api_service_exists(aws, settings, cluster_name):
            c.notes.append(f"api autoscaling: {scaling.DEFERRED}")
            return
        c.changes += c.run(scaling.plan(aws, settings, cluster_name))

    c.stage("api autoscaling", scaling_stage)
    infra = None if dry_run else read_infra(aws, settings, account_id=account_id)
    return ProvisionResult(infra=infra, changes=c.changes, notes=c.notes, dry_run=dry_run)


def _converge_then_read(
    c: _Converger, plan: Callable[[], list[Change]], read: Callable[[], T]
) -> tuple[list[Change], T]:
    changes = c.run(plan())
    return changes, read()


def _read_store(read: Callable[..., T], aws: AwsClients, settings: Settings, dry_run: bool) -> T | None:
    """Read RDS/ElastiCache: wait for availability when applying; while planning take it only if ready."""
    if not dry_run:
        return read(aws, settings, wait=True)
    try:
        return read(aws, settings, wait=False)
    except NotFound:
        return None


def read_infra(aws: AwsClients, settings: Settings, *, account_id: str | None = None) -> AwsInfra:
    """The provisioned infrastructure, by reads only (about 25 describe calls, no waiting).

    Raises NotFound naming what is missing when the environment has not been provisioned.
    """
    account_id = account_id or aws.account_id()
    net = network.read(aws, settings)
    cluster_name, cluster_arn = cluster.read(aws, settings)
    execution_role, task_role = iam.read(aws, settings)
    repos = registry.read(aws, settings)
    secret_arns, secret_versions = secrets.arns_and_versions(aws, settings)
    instance = database.describe_instance(aws, settings) or {}
    master_secret = str((instance.get("MasterUserSecret") or {}).get("SecretArn", ""))
    lb = loadbalancer.read(aws, settings)
    bucket = naming.state_bucket(settings, account_id)
    values: dict[str, Any] = {
        "private subnets": net.private_subnet_ids,
        "security groups": net.security_groups,
        "cluster": cluster_arn,
        "execution role": execution_role,
        "task role": task_role,
        "repositories": repos,
        "secrets": secret_arns,
        "RDS-managed master secret": master_secret or placeholder("RDS-managed master secret"),
        "load balancer": lb.arn,
        "target groups": lb.target_groups,
        "state bucket": bucket if state_bucket.bucket_exists(aws, bucket) else f"<new {bucket}>",
    }
    missing = [k for k, v in values.items() if _has_placeholder(v)]
    if missing:
        raise NotFound(
            f"environment {settings.environment.value} is not fully provisioned (missing: {', '.join(missing)})",
            hint=f"run `inv provision.aws --env {settings.environment.value}`",
        )
    return AwsInfra(
        environment=settings.environment.value,
        region=settings.aws.region,
        account_id=account_id,
        vpc_id=net.vpc_id,
        private_subnet_ids=net.private_subnet_ids,
        public_subnet_ids=net.public_subnet_ids,
        security_groups=dict(net.security_groups),
        cluster_name=cluster_name,
        cluster_arn=cluster_arn,
        log_group=naming.log_group(settings),
        execution_role_arn=execution_role,
        task_role_arn=task_role,
        repositories=repos,
        secrets=secret_arns,
        target_group_arns=lb.target_groups,
        load_balancer_dns=lb.dns,
        load_balancer_arn=lb.arn,
        state_bucket=bucket,
        secret_versions=secret_versions,
        extra={
            "db_instance": naming.db_instance(settings),
            # RDS-managed {"username","password"}: the migration task's admin login (JSON-key references)
            "db_master_secret_arn": master_secret,
            "replication_group": naming.replication_group(settings),
            "api_service": naming.ecs_service(settings, "api"),
        },
    )


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, tuple | list):
        return any(_has_placeholder(v) for v in value)
    return is_placeholder(str(value))


def render(result: ProvisionResult) -> None:
    """Print the plan (or what was changed) as a table, then the notes; "no changes" when converged."""
    from pmis_deploy import console

    if result.changes:
        title = "planned changes (dry-run: nothing was changed)" if result.dry_run else "changes applied"
        console.table(title, ["action", "resource", "detail"], [c.row() for c in result.changes])
        console.result(f"{len(result.changes)} change(s) {'planned' if result.dry_run else 'applied'}")
    else:
        console.result("no changes")
    for note in result.notes:
        console.warn(note)


def converge(settings: Settings, *, dry_run: bool = False, yes: bool = False) -> ProvisionResult:
    """What `inv provision.aws` does: plan (and stop there in dry-run); in a confirming environment show
    the plan and ask before applying; apply; print the outcome."""
    from pmis_deploy.aws.session import AwsClients
    from pmis_deploy.guard import confirm

    env = settings.environment.value
    if dry_run or (settings.deploy.confirm and not yes):
        planned = provision(AwsClients.for_settings(settings, dry_run=True), settings, dry_run=True)
        render(planned)
        if dry_run or not planned.changed:
            return planned
        confirm(env, required=True, yes=yes, action=f"apply {len(planned.changes)} change(s) to")
    result = provision(AwsClients.for_settings(settings), settings)
    render(result)
    return result
