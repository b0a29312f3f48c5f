"""`provision.gcp` with `gcp.sql.private_ip = true`: the real gcloud CLI against the fake, which refuses a
private-IP Cloud SQL instance until the network has private services access (an allocated range and the
Service Networking peering, the latter served inside the proxy's TLS tunnel).

The scenarios share one fake (module scope) and run in file order: a dry-run plan on an empty project,
then that plan applied → a second provision that changes nothing → a peering that lost our range to
someone else's is updated to keep both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pmis_deploy.config import load_settings
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp import private_access
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.observe import Observed, private_access_reads, read_private_access
from pmis_deploy.gcp.provision import apply, make_plan
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.shell import Runner

pytestmark = [pytest.mark.integration, pytest.mark.gcloud, pytest.mark.timeout(600)]

RANGE = "pmis-local-psa-range"
PEERING = "service networking peering servicenetworking.googleapis.com"
INSTANCE = "sql instance pmis-local-postgres"


@pytest.fixture(scope="module")
def gcp_env(gcp_module_env: dict[str, str]) -> dict[str, str]:
    return gcp_module_env


def make_ctx(gcp_env: dict[str, str], *, dry_run: bool = False) -> Ctx:
    key = "az-key-private-ip-test"  # pragma: allowlist secret
    environ = {"PMIS_GCP__SQL__PRIVATE_IP": "true", "AZURE_OPENAI_API_KEY": key}
    settings = load_settings("local", environ=environ, root=Path(__file__).resolve().parents[2]).settings
    gcloud = Gcloud(settings.gcp.project, settings.gcp.region, dry_run=dry_run, runner=Runner(echo=False), env=gcp_env)
    return Ctx(gcloud, settings, GcpNames.of(settings))


def test_dry_run_plans_the_peering_first_then_the_plan_applies_in_that_order(
    gcp_env: dict[str, str], gcp_fake: Any
) -> None:
    ctx = make_ctx(gcp_env, dry_run=True)
    plan = make_plan(ctx)
    chain = [c.row()[:2] for c in plan.phases.chains[2][0]]
    assert chain == [("create", f"allocated range {RANGE}"), ("create", PEERING), ("create", INSTANCE)]
    assert "servicenetworking.googleapis.com" in plan.phases.by_phase[1][0].detail
    assert gcp_fake.writes() == []
    assert ctx.gcloud.mutating_calls() == []

    ctx.gcloud.dry_run = False  # apply the very plan shown (one observe instead of two: gcloud is slow)
    before = len(gcp_fake.requests())
    apply(ctx, plan)
    writes = gcp_fake.writes(before)
    order = [
        next(i for i, w in enumerate(writes) if w.endswith(path))
        for path in (
            "/compute/projects/pmis-local/global/addresses",
            "/v1/services/servicenetworking.googleapis.com/connections",
            "/sql/sql/v1beta4/projects/pmis-local/instances",
        )
    ]
    assert order == sorted(order), writes  # the fake refuses the instance before the peering
    (instance,) = gcp_fake.table("sql.instances").values()
    assert instance["settings"]["ipConfiguration"]["privateNetwork"].endswith("/global/networks/default")
    assert instance["settings"]["ipConfiguration"]["ipv4Enabled"] is False
    (connection,) = gcp_fake.table("servicenetworking.connections").values()
    assert connection["reservedPeeringRanges"] == [RANGE]


def test_a_second_provision_changes_nothing(gcp_env: dict[str, str], gcp_fake: Any) -> None:
    ctx = make_ctx(gcp_env)
    before = len(gcp_fake.requests())
    plan = make_plan(ctx)
    assert plan.rows() == []
    apply(ctx, plan)
    assert gcp_fake.writes(before) == []
    assert ctx.gcloud.mutating_calls() == []


def test_a_peering_without_our_range_is_updated_keeping_the_other_one(gcp_env: dict[str, str], gcp_fake: Any) -> None:
    ctx = make_ctx(gcp_env)
    ctx.gcloud.run(g.peering_range_create("legacy-range", "default", 20))
    (connection,) = gcp_fake.table("servicenetworking.connections").values()
    connection["reservedPeeringRanges"] = ["legacy-range"]  # someone re-peered with their range only
    before = len(gcp_fake.requests())
    reads = private_access_reads(ctx)  # just these two reads of provision's round 1
    seen = Observed()
    read_private_access(seen, dict(zip(reads, ctx.gcloud.parallel(reads.values()), strict=True)))
    changes = private_access.plan(ctx, seen)
    assert [c.row() for c in changes] == [("update", PEERING, f"default: legacy-range, {RANGE}")]
    for c in changes:
        assert c.run is not None
        c.run()
    requests = gcp_fake.requests()[before:]
    assert gcp_fake.writes(before) == ["PATCH /v1/services/servicenetworking.googleapis.com/connections/-"]
    patch = next(r for r in requests if r["method"] == "PATCH")
    assert patch["body"]["reservedPeeringRanges"] == ["legacy-range", RANGE]
    assert patch["query"].get("force", "False").lower() == "false"


def test_an_instance_with_only_a_public_ip_gets_a_private_one_after_the_peering(
    gcp_env: dict[str, str], gcp_fake: Any
) -> None:
    (instance,) = gcp_fake.table("sql.instances").values()
    instance["settings"]["ipConfiguration"] = {"ipv4Enabled": True}  # created before sql.private_ip was set
    gcp_fake.table("servicenetworking.connections").clear()
    gcp_fake.table("compute.addresses").clear()
    ctx = make_ctx(gcp_env)
    plan = make_plan(ctx)
    chain = [c.row()[:2] for c in plan.phases.chains[2][0]]
    assert chain == [("create", f"allocated range {RANGE}"), ("create", PEERING), ("update", INSTANCE)]
    assert "private IP on default" in plan.phases.chains[2][0][-1].detail
    before = len(gcp_fake.requests())
    apply(ctx, plan)
    writes = gcp_fake.writes(before)
    assert writes[-1] == "PATCH /sql/sql/v1beta4/projects/pmis-local/instances/pmis-local-postgres", writes
    ip = instance["settings"]["ipConfiguration"]
    assert ip["privateNetwork"].endswith("/global/networks/default") and ip["ipv4Enabled"] is True
