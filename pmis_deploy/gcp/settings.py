"""Settings of the GCP target (the `[gcp]` table)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from pmis_deploy.settings_base import Strict


class Availability(StrEnum):
    zonal = "ZONAL"
    regional = "REGIONAL"


class RedisTier(StrEnum):
    basic = "basic"
    standard = "standard"


class EgressMode(StrEnum):
    direct = "direct"  # Direct VPC egress (--network/--subnet)
    connector = "connector"  # Serverless VPC Access connector


class GcpSql(Strict):
    database_version: str = Field("POSTGRES_15", pattern=r"^POSTGRES_\d+$")
    tier: str = Field("db-custom-1-3840", pattern=r"^db-(custom-\d+-\d+|f1-micro|g1-small|perf-optimized-N-\d+)$")
    availability_type: Availability = Availability.zonal
    backup_start_time: str = Field("03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    retained_backups: int = Field(30, ge=1, le=365)
    storage_gb: int = Field(10, ge=10, le=65536)
    private_ip: bool = False  # provision converges private services access on egress.network first
    # The allocated range of private services access (a global VPC_PEERING address): its prefix length,
    # and its first address (None: GCP picks a free block).
    private_range_prefix_length: int = Field(16, ge=8, le=24)
    private_range_address: str | None = Field(None, pattern=r"^\d{1,3}(\.\d{1,3}){3}$")
    deletion_protection: bool = False
    database: str = "pmis"
    user: str = "pmis_app"


class GcpRedis(Strict):
    tier: RedisTier = RedisTier.basic
    size_gb: int = Field(1, ge=1, le=300)
    version: str = Field("redis_7_0", pattern=r"^redis_\d+_(\d+|x)$")
    transit_encryption: bool = True


class GcpEgress(Strict):
    mode: EgressMode = EgressMode.direct
    network: str = "default"
    subnet: str = "default"
    connector_range: str = "10.8.0.0/28"  # the /28 a Serverless VPC Access connector uses


class GcpService(Strict):
    cpu: str = "1"
    memory: str = Field("512Mi", pattern=r"^\d+(Mi|Gi)$")
    min_instances: int = Field(0, ge=0)
    max_instances: int = Field(10, ge=1)


class GcpServices(Strict):
    api: GcpService = GcpService(memory="1Gi")
    web: GcpService = GcpService()
    worker: GcpService = GcpService(min_instances=1, max_instances=1, memory="1Gi")


class GcpSettings(Strict):
    project: str = Field("pmis-local", pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    region: str = Field("us-central1", pattern=r"^[a-z]+-[a-z]+\d$")
    # None = real GCP; "embedded" = the local fake of the GCP APIs, started on demand.
    endpoint: str | None = None
    sql: GcpSql = GcpSql()
    redis: GcpRedis = GcpRedis()
    egress: GcpEgress = GcpEgress()
    services: GcpServices = GcpServices()
    schedule: str = "0 0 * * *"
    time_zone: str = "Etc/UTC"
    allow_unauthenticated_api: bool = True  # the browser calls the api directly (app-level auth + CORS)
    migrate_timeout_seconds: int = Field(900, ge=60, le=86400)
    job_timeout_seconds: int = Field(900, ge=60, le=86400)
    alert_error_rate_per_second: float = Field(1.0, gt=0)
