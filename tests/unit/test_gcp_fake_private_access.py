"""The fake's private services access, over HTTP without gcloud: compute global addresses, Service
Networking served inside a CONNECT tunnel over TLS (trusting only the fake's CA), and Cloud SQL refusing
a private IP until the network is peered."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmis_deploy.emulators.gcp import FakeGcp, gcloud_env, running_fake
from pmis_deploy.emulators.gcp.core import project_number

NETWORK = "projects/pmis-local/global/networks/default"
CONNECTIONS = "https://servicenetworking.googleapis.com/v1/services/servicenetworking.googleapis.com/connections"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGcp]:
    with running_fake() as server:
        yield server


def call(fake: FakeGcp, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """http:// paths go straight to the fake; https:// URLs through it as a proxy (CONNECT + TLS)."""
    if not url.startswith("http"):
        url = fake.url + url
    context = ssl.create_default_context(cadata=fake.ca_pem)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": fake.url}), urllib.request.HTTPSHandler(context=context)
    )
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def range_body(name: str) -> dict[str, Any]:
    return {"name": name, "purpose": "VPC_PEERING", "addressType": "INTERNAL", "prefixLength": 16, "network": NETWORK}


def test_private_ip_needs_an_allocated_range_and_the_peering_first(fake: FakeGcp) -> None:
    fake.reset()
    instance = {"name": "db1", "settings": {"ipConfiguration": {"ipv4Enabled": False, "privateNetwork": NETWORK}}}
    status, error = call(fake, "POST", "/sql/sql/v1beta4/projects/pmis-local/instances", instance)
    assert status == 400 and error["error"]["status"] == "FAILED_PRECONDITION"
    assert "create Service Networking connection with service 'servicenetworking.googleapis.com'" in str(error)

    number_network = f"projects/{project_number('pmis-local')}/global/networks/default"
    status, error = call(fake, "POST", CONNECTIONS, {"network": number_network, "reservedPeeringRanges": ["r1"]})
    assert status == 400 and "Allocated IP range 'r1' not found" in error["error"]["message"]
    for name in ("r1", "r2"):
        assert call(fake, "POST", "/compute/projects/pmis-local/global/addresses", range_body(name))[0] == 200
    status, listed = call(fake, "GET", "/compute/projects/pmis-local/global/addresses?filter=purpose+eq+VPC_PEERING")
    assert [a["name"] for a in listed["items"]] == ["r1", "r2"] and listed["items"][0]["address"]
    assert call(fake, "GET", "/compute/projects/pmis-local/global/addresses?filter=purpose+eq+GCE_ENDPOINT")[1] == {
        "kind": "compute#addressList"
    }

    status, op = call(fake, "POST", CONNECTIONS, {"network": number_network, "reservedPeeringRanges": ["r1"]})
    assert status == 200 and op["done"] and op["response"]["reservedPeeringRanges"] == ["r1"]
    assert call(fake, "GET", f"https://servicenetworking.googleapis.com/v1/{op['name']}")[1]["done"] is True
    status, again = call(fake, "POST", CONNECTIONS, {"network": number_network, "reservedPeeringRanges": ["r2"]})
    assert status == 400 and "UpdateConnection" in again["error"]["message"]
    # an update must keep the ranges in use (unless forced)
    patch = CONNECTIONS + "/-?force=False"
    assert call(fake, "PATCH", patch, {"network": number_network, "reservedPeeringRanges": ["r2"]})[0] == 400
    body = {"network": number_network, "reservedPeeringRanges": ["r1", "r2"]}
    assert call(fake, "PATCH", patch, body)[0] == 200
    listing = "https://servicenetworking.googleapis.com/v1/services/-/connections?network=" + number_network
    assert call(fake, "GET", listing)[1]["connections"][0]["reservedPeeringRanges"] == ["r1", "r2"]

    status, op = call(fake, "POST", "/sql/sql/v1beta4/projects/pmis-local/instances", instance)
    assert status == 200 and op["status"] == "DONE"
    hosts = {r["host"] for r in fake.requests() if r["api"] == "servicenetworking"}
    assert hosts == {"servicenetworking.googleapis.com"}  # served in the tunnel, named by the real host


def test_the_tunnel_speaks_tls_only_with_the_fakes_own_ca(fake: FakeGcp) -> None:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": fake.url}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),  # the system CAs only
    )
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        opener.open("https://servicenetworking.googleapis.com/v1/operations/x", timeout=10)


def test_gcloud_env_trusts_the_ca_of_the_running_fake(fake: FakeGcp, tmp_path: Path) -> None:
    env = gcloud_env(fake.port, tmp_path / "cfg")  # fetched from /_fake/ca.pem
    assert Path(env["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"]).read_text() == fake.ca_pem
    assert fake.env(tmp_path / "other")["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"].endswith("fake-gcp-ca.pem")
