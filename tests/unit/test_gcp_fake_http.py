"""The fake GCP over HTTP without gcloud: proxy routing, errors, knobs, redaction, etags, preconditions."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmis_deploy.emulators.gcp import FakeGcp, gcloud_env, running_fake
from pmis_deploy.emulators.gcp.core import crc32c


@pytest.fixture
def fake(gcp_fake: FakeGcp) -> Iterator[FakeGcp]:
    gcp_fake.reset()
    yield gcp_fake
    gcp_fake.reset()


def call(
    fake: FakeGcp,
    method: str,
    url: str,
    body: Any = None,
    *,
    proxy: bool = True,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request; absolute URLs go through the fake as an HTTP proxy, as gcloud sends them."""
    if not url.startswith("http"):
        url = fake.url + url
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(  # noqa: S310  (loopback http only)
        url, data=data, method=method, headers=headers or {"Content-Type": "application/json"}
    )
    handlers = [urllib.request.ProxyHandler({"http": fake.url} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=10) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload


RUN = "http://us-central1-run.fake/run/apis/serving.knative.dev/v1/namespaces/pmis-local"


def service(
    name: str, image: str, traffic: list[dict[str, Any]] | None = None, rv: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
    }
    if traffic is not None:
        body["spec"]["traffic"] = traffic
    if rv:
        body["metadata"]["resourceVersion"] = rv
    return body


def test_regional_run_host_via_proxy_and_google_errors(fake: FakeGcp) -> None:
    status, error = call(fake, "GET", f"{RUN}/services/web")
    assert status == 404
    assert error["error"]["status"] == "NOT_FOUND"
    status, created = call(fake, "POST", f"{RUN}/services", service("web", "img:v1"))
    assert status == 200
    assert created["metadata"]["labels"]["cloud.googleapis.com/location"] == "us-central1"
    assert created["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    assert created["status"]["observedGeneration"] == created["metadata"]["generation"] == 1
    rev = created["status"]["latestReadyRevisionName"]
    assert rev.startswith("web-00001-")
    assert created["status"]["traffic"] == [{"latestRevision": True, "revisionName": rev, "percent": 100}]
    assert [c["status"] for c in created["status"]["conditions"]] == ["True", "True", "True"]
    # The same service is not visible from another region.
    status, _ = call(fake, "GET", f"{RUN.replace('us-central1', 'europe-west1')}/services/web")
    assert status == 404
    # An API prefix the fake does not serve is a 404 with a clear message; a request is logged with its host.
    status, error = call(fake, "GET", "/bigquery/v2/projects/p/datasets", proxy=False)
    assert status == 404 and "does not serve the API prefix /bigquery/" in error["error"]["message"]
    assert fake.requests("run")[0]["host"] == "us-central1-run.fake"
    assert fake.requests("run")[0]["region"] == "us-central1"


def test_run_replace_pins_traffic_tags_and_rejects_bad_updates(fake: FakeGcp) -> None:
    _, created = call(fake, "POST", f"{RUN}/services", service("web", "img:v1"))
    rev1 = created["status"]["latestReadyRevisionName"]
    rv = created["metadata"]["resourceVersion"]
    # What `gcloud run deploy --no-traffic --tag=cand` sends: a named template, old revision pinned.
    body = service(
        "web", "img:v2", [{"revisionName": rev1, "percent": 100}, {"revisionName": "web-cand1", "tag": "cand"}], rv
    )
    body["spec"]["template"]["metadata"] = {"name": "web-cand1"}
    status, replaced = call(fake, "PUT", f"{RUN}/services/web", body)
    assert status == 200, replaced
    assert replaced["metadata"]["generation"] == 2
    assert replaced["status"]["latestCreatedRevisionName"] == "web-cand1"
    tagged = next(t for t in replaced["status"]["traffic"] if t.get("tag") == "cand")
    assert tagged["url"].startswith("https://cand---web-") and "percent" not in tagged

    stale = service("web", "img:v3", rv=rv)
    assert call(fake, "PUT", f"{RUN}/services/web", stale)[0] == 409
    current = replaced["metadata"]["resourceVersion"]
    bad_sum = service("web", "img:v2", [{"revisionName": rev1, "percent": 50}], current)
    bad_sum["spec"]["template"] = body["spec"]["template"]
    status, error = call(fake, "PUT", f"{RUN}/services/web", bad_sum)
    assert status == 400 and "add up to 100" in error["error"]["message"]
    unknown = service("web", "img:v2", [{"revisionName": "web-nope", "percent": 100}], current)
    unknown["spec"]["template"] = body["spec"]["template"]
    assert call(fake, "PUT", f"{RUN}/services/web", unknown)[0] == 400
    clash = service("web", "img:v9", [{"latestRevision": True, "percent": 100}], current)
    clash["spec"]["template"]["metadata"] = {"name": "web-cand1"}
    assert call(fake, "PUT", f"{RUN}/services/web", clash)[0] == 409
    # Rejected writes left the service as it was.
    _, after = call(fake, "GET", f"{RUN}/services/web")
    assert after["metadata"]["generation"] == 2 and after["status"]["latestCreatedRevisionName"] == "web-cand1"

    status, listed = call(fake, "GET", f"{RUN}/revisions?labelSelector=serving.knative.dev/service%20%3D%20web")
    assert [r["metadata"]["name"] for r in listed["items"]] == ["web-cand1", rev1]
    assert listed["metadata"] == {}


def test_run_lowercases_boolean_template_annotations(fake: FakeGcp) -> None:
    body = service("worker", "img:v1")
    body["spec"]["template"]["metadata"] = {"annotations": {"run.googleapis.com/cpu-throttling": "False"}}
    _, created = call(fake, "POST", f"{RUN}/services", body)
    assert created["spec"]["template"]["metadata"]["annotations"]["run.googleapis.com/cpu-throttling"] == "false"


def test_run_failure_knob_and_polls(fake: FakeGcp) -> None:
    fake.set_knob("run_polls", 1)
    _, created = call(fake, "POST", f"{RUN}/services", service("api", "img:v1"))
    assert created["status"]["conditions"][0]["status"] == "Unknown"
    _, polled = call(fake, "GET", f"{RUN}/services/api")
    assert polled["status"]["conditions"][0]["status"] == "Unknown"
    _, ready = call(fake, "GET", f"{RUN}/services/api")
    assert ready["status"]["conditions"][0]["status"] == "True"

    fake.set_knob("run_polls", 0)
    fake.set_knob("fail_service_revisions", {"api": ""})
    body = service("api", "img:v2", rv=ready["metadata"]["resourceVersion"])
    _, failed = call(fake, "PUT", f"{RUN}/services/api", body)
    condition = failed["status"]["conditions"][0]
    assert (condition["type"], condition["status"]) == ("Ready", "False")
    assert "Container failed to start" in condition["message"]
    assert failed["status"]["latestReadyRevisionName"] == ready["status"]["latestReadyRevisionName"]
    assert failed["status"]["traffic"][0]["revisionName"] == ready["status"]["latestReadyRevisionName"]


def test_disabled_api_knob_and_enable(fake: FakeGcp) -> None:
    fake.set_knob("disabled_apis", ["redis.googleapis.com"])
    status, error = call(fake, "GET", "/redis/v1/projects/pmis-local/locations/us-central1/instances", proxy=False)
    assert status == 403
    assert error["error"]["details"][0]["reason"] == "SERVICE_DISABLED"
    _, state = call(fake, "GET", "/serviceusage/v1/projects/pmis-local/services/redis.googleapis.com")
    assert state["state"] == "DISABLED"
    status, op = call(fake, "POST", "/serviceusage/v1/projects/pmis-local/services/redis.googleapis.com:enable", {})
    assert status == 200 and op["done"] is True and op["name"].startswith("operations/")
    assert call(fake, "GET", "/redis/v1/projects/pmis-local/locations/us-central1/instances")[0] == 200


def test_control_endpoints_validate_knobs_and_reset(fake: FakeGcp) -> None:
    status, error = call(fake, "POST", "/_fake/knobs", {"no_such_knob": 1}, proxy=False)
    assert status == 400 and "no_such_knob" in error["error"]["message"]
    assert call(fake, "POST", "/_fake/knobs", {"op_polls": "two"}, proxy=False)[0] == 400
    status, knobs = call(fake, "POST", "/_fake/knobs", {"op_polls": 2}, proxy=False)
    assert status == 200 and knobs["op_polls"] == 2
    call(fake, "POST", "/secretmanager/v1/projects/pmis-local/secrets?secretId=s1", {"replication": {"automatic": {}}})
    status, health = call(fake, "GET", "/_fake/health", proxy=False)
    assert health["resources"] == {"secretmanager.secrets": 1}
    assert call(fake, "POST", "/_fake/reset", {}, proxy=False)[0] == 200
    _, knobs = call(fake, "GET", "/_fake/knobs", proxy=False)
    assert knobs["op_polls"] == 0
    assert call(fake, "GET", "/_fake/requests", proxy=False)[1] == {"requests": []}


def test_operations_pending_for_op_polls(fake: FakeGcp) -> None:
    fake.set_knob("op_done_at_create", False)
    fake.set_knob("op_polls", 1)
    base = "/artifactregistry/v1/projects/pmis-local/locations/us-central1"
    _, op = call(fake, "POST", f"{base}/repositories?repositoryId=app", {"format": "DOCKER"})
    assert op["done"] is False and "response" not in op
    path = "/artifactregistry/v1/" + op["name"]
    assert call(fake, "GET", path)[1]["done"] is False
    done = call(fake, "GET", path)[1]
    assert done["done"] is True and done["response"]["name"].endswith("/repositories/app")
    _, sql_op = call(
        fake,
        "POST",
        "/sql/sql/v1beta4/projects/pmis-local/instances",
        {"name": "db1", "databaseVersion": "POSTGRES_15"},
    )
    assert sql_op["status"] == "PENDING"
    op_path = f"/sql/sql/v1beta4/projects/pmis-local/operations/{sql_op['name']}"
    assert [call(fake, "GET", op_path)[1]["status"] for _ in range(2)] == ["RUNNING", "DONE"]


def test_request_log_redacts_secret_payloads_and_passwords(fake: FakeGcp) -> None:
    secrets = "/secretmanager/v1/projects/pmis-local/secrets"
    call(fake, "POST", f"{secrets}?secretId=db", {"replication": {"automatic": {}}})
    data = b"top-secret-payload"
    payload = {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))}
    status, version = call(fake, "POST", f"{secrets}/db:addVersion", {"payload": payload})
    assert status == 200 and version["clientSpecifiedPayloadChecksum"] is True
    urlsafe = b"\xfb\xff\xfe?>"  # encodes to '-_' in URL-safe base64, as apitools sends it
    safe_payload = {"data": base64.urlsafe_b64encode(urlsafe).decode(), "dataCrc32c": str(crc32c(urlsafe))}
    assert "-" in safe_payload["data"] or "_" in safe_payload["data"]
    assert call(fake, "POST", f"{secrets}/db:addVersion", {"payload": safe_payload})[0] == 200
    _, accessed = call(fake, "GET", f"{secrets}/db/versions/2:access")
    assert base64.b64decode(accessed["payload"]["data"]) == urlsafe
    bad = {"data": payload["data"], "dataCrc32c": str(crc32c(data) ^ 1)}
    assert call(fake, "POST", f"{secrets}/db:addVersion", {"payload": bad})[0] == 400
    _, accessed = call(fake, "GET", f"{secrets}/db/versions/1:access")
    assert base64.b64decode(accessed["payload"]["data"]) == data
    call(fake, "POST", "/sql/sql/v1beta4/projects/pmis-local/instances", {"name": "db1", "rootPassword": "root-pw"})
    call(fake, "POST", "/sql/sql/v1beta4/projects/pmis-local/instances/db1/users", {"name": "u", "password": "user-pw"})
    log = json.dumps(fake.requests())
    assert base64.b64encode(data).decode() not in log
    assert "root-pw" not in log and "user-pw" not in log
    assert "<redacted>" in log
    _, state = call(fake, "GET", "/_fake/state", proxy=False)
    assert base64.b64encode(data).decode() not in json.dumps(state)


def test_iam_policy_etag_conflict(fake: FakeGcp) -> None:
    path = "/cloudresourcemanager/v1/projects/pmis-local"
    _, policy = call(fake, "POST", f"{path}:getIamPolicy", {"options": {"requestedPolicyVersion": 3}})
    binding = {"role": "roles/viewer", "members": ["user:a@example.com"]}
    status, updated = call(fake, "POST", f"{path}:setIamPolicy", {"policy": {**policy, "bindings": [binding]}})
    assert status == 200 and updated["etag"] != policy["etag"]
    status, error = call(fake, "POST", f"{path}:setIamPolicy", {"policy": {**policy, "bindings": []}})
    assert status == 409 and error["error"]["status"] == "ABORTED"


def test_storage_generation_preconditions(fake: FakeGcp) -> None:
    call(fake, "POST", "/storage/b?project=pmis-local", {"name": "state", "location": "us-central1"})
    boundary = "b0undary"
    raw = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"name": "locks/x.json"})
        + f"\r\n--{boundary}\r\nContent-Type: application/json\r\n\r\n"
        + '{"owner": "a"}'
        + f"\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f'multipart/related; boundary="{boundary}"'}
    url = "/upload/storage/v1/b/state/o?uploadType=multipart&ifGenerationMatch=0"
    status, obj = call(fake, "POST", url, raw=raw, headers=headers)
    assert status == 200 and obj["size"] == "14"
    status, error = call(fake, "POST", url, raw=raw, headers=headers)
    assert status == 412 and error["error"]["code"] == 412
    status, media = call(
        fake, "GET", f"/storage/b/state/o/locks%2Fx.json?alt=media&ifGenerationMatch={obj['generation']}"
    )
    assert status == 200 and media == {"owner": "a"}
    assert call(fake, "DELETE", "/storage/b/state/o/locks%2Fx.json?ifGenerationMatch=1")[0] == 412
    assert call(fake, "DELETE", f"/storage/b/state/o/locks%2Fx.json?ifGenerationMatch={obj['generation']}")[0] == 204
    assert call(fake, "GET", "/storage/b/nobucket/o/x")[0] == 404


def test_connect_is_refused_cleanly(fake: FakeGcp) -> None:
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(b"CONNECT oauth2.googleapis.com:443 HTTP/1.1\r\nHost: oauth2.googleapis.com:443\r\n\r\n")
        chunks = []
        while chunk := sock.recv(4096):  # the fake closes the connection after its answer
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 405")
    assert "CLOUDSDK_API_ENDPOINT_OVERRIDES" in reply
    assert fake.requests()[-1]["method"] == "CONNECT"


def test_snapshot_survives_a_restart(tmp_path: Path) -> None:
    snapshot = tmp_path / "state.json"
    with running_fake(snapshot=snapshot) as first:
        call(first, "POST", "/iam/v1/projects/pmis-local/serviceAccounts", {"accountId": "app-runtime"})
        first.set_knob("run_polls", 3)
    assert snapshot.stat().st_mode & 0o777 == 0o600
    with running_fake(snapshot=snapshot) as second:
        status, account = call(
            second, "GET", "/iam/v1/projects/-/serviceAccounts/app-runtime@pmis-local.iam.gserviceaccount.com"
        )
        assert status == 200 and account["email"].startswith("app-runtime@")
        assert [r["method"] for r in second.requests()] == ["GET"]  # the request log is not persisted
        assert second.store.knobs.run_polls == 3


def test_gcloud_env_points_every_api_at_the_fake(tmp_path: Path) -> None:
    env = gcloud_env(5056, tmp_path / "cfg", project="pmis-staging")
    assert env["CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL"] == "http://127.0.0.1:5056/sql/"
    assert env["CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"] == "http://127.0.0.1:5056/secretmanager/"
    assert env["CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"] == "http://run.fake/run/"
    assert (env["CLOUDSDK_PROXY_TYPE"], env["CLOUDSDK_PROXY_ADDRESS"], env["CLOUDSDK_PROXY_PORT"]) == (
        "http",
        "127.0.0.1",
        "5056",
    )
    assert Path(env["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"]).read_text()
    assert env["CLOUDSDK_CONFIG"] == str(tmp_path / "cfg")
    assert env["CLOUDSDK_CORE_PROJECT"] == "pmis-staging"
    assert env["NO_PROXY"] == env["no_proxy"] == ""
    from pmis_deploy.emulators.gcp.apis import ROUTERS

    overridden = {k.removeprefix("CLOUDSDK_API_ENDPOINT_OVERRIDES_").lower() for k in env if "OVERRIDES" in k}
    assert overridden == set(ROUTERS) - {"oauth2"}  # the token endpoint is a service-account key's token_uri
