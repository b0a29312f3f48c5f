"""Pure decisions of the GCP flow: traffic analysis, spec hashes, IAM policy merges, secret pinning."""

from __future__ import annotations

from typing import Any

from pmis_deploy.config import load_settings
from pmis_deploy.gcp import deploy, iam, monitoring, run
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.names import GcpNames
from pmis_deploy.gcp.runner import Gcloud


def service(
    traffic: list[dict[str, Any]], spec: list[dict[str, Any]] | None = None, latest: str = "a-2"
) -> dict[str, Any]:
    return {
        "metadata": {"name": "a"},
        "spec": {"traffic": spec if spec is not None else [{"latestRevision": True, "percent": 100}]},
        "status": {"traffic": traffic, "latestReadyRevisionName": latest, "latestCreatedRevisionName": latest},
    }


def test_traffic_notes() -> None:
    assert run.traffic_note(service([{"revisionName": "a-2", "percent": 100}])) is None
    split = service([{"revisionName": "a-1", "percent": 90}, {"revisionName": "a-2", "percent": 10}])
    assert (
        run.traffic_note(split) == "a: traffic is split (a-1 90%, a-2 10%); this release moves 100% to its new revision"
    )
    pinned = service([{"revisionName": "a-1", "percent": 100}], spec=[{"revisionName": "a-1", "percent": 100}])
    assert "pinned to a-1" in (run.traffic_note(pinned) or "")
    assert not run.at_latest(pinned) and run.at_latest(service([{"revisionName": "a-2", "percent": 100}]))


def test_release_tags_only_ours_and_not_the_kept_one() -> None:
    svc = service([], spec=[{"tag": "r-abc", "percent": 0}, {"tag": "r-def", "percent": 0}, {"tag": "canary"}])
    assert run.release_tags(svc, keep="r-def") == ["r-abc"]
    assert run.traffic_tag("0123456789AB-dirty-x_y") == "r-0123456789ab-dirty-x-y"


def ctx() -> Ctx:
    settings = load_settings("staging", environ={}).settings
    return Ctx(Gcloud(settings.gcp.project, settings.gcp.region), settings, GcpNames.of(settings))


def test_spec_hash_is_stable_and_sensitive() -> None:
    c = ctx()
    images = run.Images(api="r/api:1", web="r/web:1", worker="r/worker:1")
    one = run.desired_services(c, images, {"pmis-staging-database-url": "3"})
    again = run.desired_services(c, images, {"pmis-staging-database-url": "3"})
    other = run.desired_services(c, images, {"pmis-staging-database-url": "4"})
    assert one["api"].hash == again["api"].hash
    assert one["api"].hash != other["api"].hash
    assert one["web"].hash == other["web"].hash  # web reads no secret
    assert "--set-secrets=DATABASE_URL=pmis-staging-database-url:3" in one["api"].cmd.options
    pinned = run.desired_services(c, images, {"pmis-staging-redis-ca": "1", "pmis-staging-redis-url": "2"})
    assert (
        "--set-secrets=/etc/pmis/redis-ca/ca.pem=pmis-staging-redis-ca:1,REDIS_URL=pmis-staging-redis-url:2"
        in pinned["api"].cmd.options
    )
    assert "--port=8000" in one["api"].cmd.options and "--port=3000" in one["web"].cmd.options
    worker = one["worker"].cmd.options
    assert "--no-cpu-throttling" in worker and "--min-instances=1" in worker and "--no-allow-unauthenticated" in worker
    cmd = one["api"].deploy_cmd(tag="r-1", no_traffic=True)
    assert cmd.options[-3:] == (f"--labels=pmis-spec={one['api'].hash}", "--tag=r-1", "--no-traffic")


def test_jobs_are_one_shot() -> None:
    jobs = run.desired_jobs(ctx(), run.Images("a", "w", "k"), {})
    assert jobs["migrate"].cmd.options[:4] == (
        "--image=a",
        "--service-account=pmis-staging-migrate@pmis-staging.iam.gserviceaccount.com",
        "--command=alembic",
        "--args=upgrade,head",
    )
    assert "--args=-m,worker.jobs.check_overdue_tasks" in jobs["overdue"].cmd.options


def test_pending_secret_versions_are_resolved_and_rehashed() -> None:
    want = run.Desired("api", "s", Cmd(("run", "deploy"), ("s",), ("--set-secrets=A=x:new,B=y:2,C=z:new",)), "old")
    resolved = deploy._resolve(want, {"x": "7"})
    assert resolved.cmd.options == ("--set-secrets=A=x:7,B=y:2",)  # z: nothing was stored
    assert resolved.hash == run.spec_hash(resolved.cmd) != "old"
    assert deploy._with_image(resolved, "img@sha256:1").hash == resolved.hash


def test_iam_policy_merge_keeps_etag_and_other_members() -> None:
    policy = {"etag": "BwX", "bindings": [{"role": "roles/x", "members": ["user:a"]}]}
    merged = iam.with_members(policy, "roles/x", ["serviceAccount:b"])
    assert merged == {"etag": "BwX", "bindings": [{"role": "roles/x", "members": ["serviceAccount:b", "user:a"]}]}
    assert iam.with_members({}, "roles/y", ["m"]) == {"bindings": [{"role": "roles/y", "members": ["m"]}]}
    assert policy["bindings"][0]["members"] == ["user:a"]  # not mutated


def test_monitoring_subset_ignores_server_fields() -> None:
    desired = {"displayName": "d", "conditions": [{"displayName": "c", "x": 1.0}]}
    current = {
        "name": "p/1",
        "etag": "e",
        "displayName": "d",
        "conditions": [{"name": "c/1", "displayName": "c", "x": "1"}],
    }
    assert monitoring.subset(desired, current)
    assert not monitoring.subset(desired, {**current, "conditions": []})
