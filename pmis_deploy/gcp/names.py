"""Every GCP resource name of an environment, derived from the settings (pmis-<env>-…), in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

# Secret key (our name) → the environment variable the services read it as.
SECRET_ENV = {
    "database-url": "DATABASE_URL",
    "redis-url": "REDIS_URL",
    "celery-broker": "CELERY_BROKER_URL",
    "azure-openai-key": "AZURE_OPENAI_API_KEY",
    "redis-ca": "/etc/pmis/redis-ca/ca.pem",  # a mounted file (TLS to Memorystore), not a variable
}
# Secrets the workloads never read, kept so that converge can rebuild URLs without regenerating.
INTERNAL_SECRETS = ("db-password", "redis-auth")
WORKLOADS = ("api", "worker", "web", "migrate", "scheduler")
SERVICES = ("api", "web", "worker")  # Cloud Run services
# Which secrets (keys of SECRET_ENV) each workload reads.
WORKLOAD_SECRETS: dict[str, tuple[str, ...]] = {
    "api": ("database-url", "redis-url", "celery-broker", "azure-openai-key", "redis-ca"),
    "worker": ("database-url", "redis-url", "celery-broker", "azure-openai-key", "redis-ca"),
    "migrate": ("database-url",),
    "web": (),
    "scheduler": (),
}
# Workloads that talk to Cloud SQL (roles/cloudsql.client, --set-cloudsql-instances).
SQL_WORKLOADS = ("api", "worker", "migrate")
PORTS = {"api": 8000, "web": 3000, "worker": 8080}


@dataclass(frozen=True)
class GcpNames:
    project: str
    region: str
    prefix: str  # pmis-<env>

    @classmethod
    def of(cls, settings: Settings) -> GcpNames:
        return cls(settings.gcp.project, settings.gcp.region, settings.name())

    def n(self, *parts: str) -> str:
        return "-".join((self.prefix, *parts))

    @property
    def sql_instance(self) -> str:
        return self.n("postgres")

    @property
    def connection_name(self) -> str:
        return f"{self.project}:{self.region}:{self.sql_instance}"

    @property
    def redis_instance(self) -> str:
        return self.n("redis")

    @property
    def repository(self) -> str:
        return self.prefix

    @property
    def registry_host(self) -> str:
        return f"{self.region}-docker.pkg.dev"

    def image(self, component: str, tag: str) -> str:
        return f"{self.registry_host}/{self.project}/{self.repository}/{component}:{tag}"

    def service_account(self, workload: str) -> str:
        return self.n(workload)

    def sa_email(self, workload: str) -> str:
        return f"{self.service_account(workload)}@{self.project}.iam.gserviceaccount.com"

    def secret(self, key: str) -> str:
        return self.n(key)

    def service(self, component: str) -> str:
        return self.n(component)

    @property
    def migrate_job(self) -> str:
        return self.n("migrate")

    @property
    def overdue_job(self) -> str:
        return self.n("check-overdue-tasks")

    @property
    def scheduler_job(self) -> str:
        return self.n("check-overdue-tasks")

    @property
    def connector(self) -> str:
        return self.n("connector")[:25]

    @property
    def private_range(self) -> str:
        """The allocated range (global address, purpose VPC_PEERING) of private services access."""
        return self.n("psa-range")

    @property
    def dashboard(self) -> str:
        return f"PMIS {self.prefix}"

    @property
    def state_bucket(self) -> str:
        return f"{self.project}-{self.prefix}-deploy-state"

    def job_run_uri(self, job: str) -> str:
        return f"https://run.googleapis.com/v2/projects/{self.project}/locations/{self.region}/jobs/{job}:run"
