"""Private services access for a Cloud SQL private IP: the argv builders (by equality), the plan from an
observed state (no gcloud: the runner is in dry-run with no binary), and the chain that orders it before
the instance create."""

from __future__ import annotations

import threading

import pytest

from pmis_deploy.config import load_settings
from pmis_deploy.errors import ConfigError
from pmis_deploy.gcp import apis, private_access, sql
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.observe import Observed
from pmis_deploy.gcp.plan import Change, Phases, change
from pmis_deploy.gcp.runner import Gcloud

P, R = "pmis-production", "us-central1"
RANGE = "pmis-production-psa-range"
PEERING = "service networking peering servicenetworking.googleapis.com"


def make_ctx(**environ: str) -> Ctx:
    env = {"AZURE_OPENAI_API_KEY": "az-key-123456", **environ}  # pragma: allowlist secret
    settings = load_settings("production", environ=env).settings
    gcloud = Gcloud(settings.gcp.project, settings.gcp.region, dry_run=True, binary="/nonexistent/gcloud")
    return Ctx(gcloud, settings, GcpNames.of(settings))


def address(name: str, network: str = "default") -> dict[str, object]:
    link = f"https://www.googleapis.com/compute/v1/projects/{P}/global/networks/{network}"
    return {"name": name, "purpose": "VPC_PEERING", "prefixLength": 16, "network": link}


def peering(*ranges: str) -> dict[str, object]:
    return {
        "network": "projects/123456789012/global/networks/default",  # pragma: allowlist secret
        "service": "services/servicenetworking.googleapis.com",
        "peering": "servicenetworking-googleapis-com",
        "reservedPeeringRanges": list(ranges),
    }


def test_argv_of_range_and_peering_commands() -> None:
    assert g.peering_ranges_list().argv(P, R) == [
        "gcloud", "compute", "addresses", "list", "--global", "--filter=purpose=VPC_PEERING",
        f"--project={P}", "--format=json", "--quiet",
    ]  # fmt: skip
    assert g.peering_range_create(RANGE, "default", 16).argv(P, R) == [
        "gcloud", "compute", "addresses", "create", RANGE, "--global", "--purpose=VPC_PEERING",
        "--prefix-length=16", "--network=default", f"--project={P}", "--format=json", "--quiet",
    ]  # fmt: skip
    assert g.peering_range_create(RANGE, "vpc", 20, "10.60.0.0").options == (
        "--global", "--purpose=VPC_PEERING", "--addresses=10.60.0.0", "--prefix-length=20", "--network=vpc",
    )  # fmt: skip
    assert g.vpc_peerings_list("default").argv(P, R) == [
        "gcloud", "services", "vpc-peerings", "list", "--network=default", f"--project={P}", "--format=json", "--quiet",
    ]  # fmt: skip
    assert g.vpc_peering_connect("default", [RANGE]).argv(P, R) == [
        "gcloud", "services", "vpc-peerings", "connect", "--service=servicenetworking.googleapis.com",
        f"--ranges={RANGE}", "--network=default", f"--project={P}", "--format=json", "--quiet",
    ]  # fmt: skip
    update = g.vpc_peering_update("default", ["theirs", RANGE])
    assert update.options == (
        "--service=servicenetworking.googleapis.com", f"--ranges=theirs,{RANGE}", "--network=default",
    )  # fmt: skip
    assert "--force" not in update.argv(P, R)
    # dry-run may run the reads and refuses the rest (the runner decides by verb)
    assert g.peering_ranges_list().read_only and g.vpc_peerings_list("default").read_only
    assert not any(
        c.read_only for c in (g.peering_range_create(RANGE, "d", 16), g.vpc_peering_connect("d", ["r"]), update)
    )


def test_service_networking_api_is_required_only_for_a_private_ip() -> None:
    assert g.SERVICE_NETWORKING_API in apis.required(make_ctx())  # production sets sql.private_ip
    assert g.SERVICE_NETWORKING_API not in apis.required(make_ctx(PMIS_GCP__SQL__PRIVATE_IP="false"))
    assert "compute.googleapis.com" in apis.required(make_ctx())


def test_nothing_there_plans_range_then_connect() -> None:
    ctx = make_ctx(PMIS_GCP__SQL__PRIVATE_RANGE_PREFIX_LENGTH="20")
    rows = [c.row() for c in private_access.plan(ctx, Observed())]
    assert rows == [
        ("create", f"allocated range {RANGE}", "VPC_PEERING /20 on default"),
        ("create", PEERING, f"default: {RANGE}"),
    ]
    assert ctx.gcloud.invocations == 0


def test_existing_peering_with_another_range_is_updated_to_keep_it() -> None:
    ctx = make_ctx()
    seen = Observed(peering_ranges={"theirs": address("theirs")}, service_peering=peering("theirs"))
    rows = [c.row() for c in private_access.plan(ctx, seen)]
    assert rows == [
        ("create", f"allocated range {RANGE}", "VPC_PEERING /16 on default"),
        ("update", PEERING, f"default: theirs, {RANGE}"),
    ]


def test_converged_plans_nothing_and_public_ip_reads_nothing() -> None:
    ctx = make_ctx()
    seen = Observed(peering_ranges={RANGE: address(RANGE)}, service_peering=peering("theirs", RANGE))
    assert private_access.plan(ctx, seen) == []
    assert private_access.plan(make_ctx(PMIS_GCP__SQL__PRIVATE_IP="false"), Observed()) == []


def test_our_range_on_another_network_is_a_config_error() -> None:
    seen = Observed(peering_ranges={RANGE: address(RANGE, network="legacy")})
    with pytest.raises(ConfigError, match="legacy"):
        private_access.plan(make_ctx(), seen)


def test_the_instance_create_is_chained_after_range_and_peering() -> None:
    ctx = make_ctx()
    phases = Phases()
    sql.plan(ctx, Observed(), phases, None)
    assert [c.resource for c in phases.chains[2][0]] == [
        f"allocated range {RANGE}",
        PEERING,
        "sql instance pmis-production-postgres",
    ]
    create = phases.chains[2][0][-1]
    assert "private IP" in create.detail


def test_chained_changes_run_in_order_alongside_the_phase() -> None:
    order: list[str] = []
    lock = threading.Lock()
    redis_done = threading.Event()

    def step(name: str, wait_for: threading.Event | None = None) -> Change:
        def run() -> None:
            if wait_for is not None:
                assert wait_for.wait(10), "the chain did not run alongside the phase's other change"
            with lock:
                order.append(name)
            if name == "redis":
                redis_done.set()

        return change(name, "create", "", run)

    phases = Phases()
    # the chain's first step waits for a change of the same phase: only concurrent runs finish
    phases.chain(2, step("range", wait_for=redis_done), step("peering"), step("instance"))
    phases.add(2, step("redis"))
    phases.add(3, step("database"))
    phases.apply(Gcloud("p-roject", "r").parallel)
    assert order == ["redis", "range", "peering", "instance", "database"]
    assert [c.resource for c in phases.changes] == ["range", "peering", "instance", "redis", "database"]


def test_a_public_only_instance_is_patched_onto_the_network_after_the_peering() -> None:
    ctx = make_ctx()
    public = {"databaseVersion": "POSTGRES_15", "settings": {"ipConfiguration": {"ipv4Enabled": True}}}
    phases = Phases()
    sql.plan(ctx, Observed(sql_instance=public, users={"pmis_app"}), phases, "pw")
    (chain,) = phases.chains[2]
    assert [c.row()[:2] for c in chain] == [
        ("create", f"allocated range {RANGE}"),
        ("create", PEERING),
        ("update", "sql instance pmis-production-postgres"),
    ]
    assert "private IP on default" in chain[-1].detail
    network = f"--network=projects/{P}/global/networks/default"
    assert network in g.sql_instance_patch("x", ctx.settings.gcp, sql.network(ctx)).options
    assert not any(o.startswith("--network") for o in g.sql_instance_patch("x", ctx.settings.gcp).options)
    private = {**public, "settings": {"ipConfiguration": {"privateNetwork": "projects/p/global/networks/default"}}}
    assert sql.needs_private_ip(ctx, private) is False
    assert sql.needs_private_ip(make_ctx(PMIS_GCP__SQL__PRIVATE_IP="false"), public) is False
