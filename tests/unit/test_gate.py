"""The checklist report (concurrency, waivers, JSON, table) and run_gate."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from pmis_deploy.checks import registry, report
from pmis_deploy.checks.outcome import Outcome, SubCheck, Verdict, combine
from pmis_deploy.config import LoadedSettings
from pmis_deploy.errors import ConfigError, GateFailed
from pmis_deploy.gate import run_gate

TODAY = dt.date(2026, 11, 28)


def fake_items(monkeypatch, outcomes: dict[str, Outcome], delay: float = 0.0):
    """Checklist items whose functions return fixed outcomes (after `delay` seconds)."""
    items = []
    for name, outcome in outcomes.items():

        def run(ctx, outcome=outcome, name=name):
            time.sleep(delay)
            return Verdict(outcome, f"{name} said {outcome.value}")

        items.append((registry.Item(name, (f"runbook item {name}",), f"unused:{name}"), run))
    functions = {item.name: fn for item, fn in items}
    monkeypatch.setattr(registry.Item, "function", lambda self: functions[self.name])
    return [item for item, _ in items]


def waiver(check, expires, reason="vendor fix due next sprint (JIRA-123)"):
    return {"check": check, "reason": reason, "expires": expires.isoformat()}


def test_every_runbook_item_is_answered_by_a_check():
    answered = {title for item in registry.CHECKLIST for title in item.runbook}
    assert set(registry.RUNBOOK_ITEMS) <= answered
    assert registry.GROUPS["security"] == ("secrets", "audit", "images")
    evidence = {item.name: item.evidence for item in registry.CHECKLIST if item.evidence}
    assert evidence == {
        "monitoring": "monitoring.md",
        "load-testing": "load-testing.md",
        "disaster-recovery": "disaster-recovery.md",
    }
    for item in registry.CHECKLIST:
        assert callable(item.function())


def test_resolve_expands_groups_in_checklist_order_and_rejects_typos():
    assert [i.name for i in registry.resolve(["audit", "security"])] == ["secrets", "images", "audit"]
    with pytest.raises(ConfigError, match=r"deploy.gate: 'secret' is not a check \(did you mean secrets\?\)"):
        registry.resolve(["secret"], origin="deploy.gate")


def test_combine():
    assert combine([SubCheck("a", Outcome.PASS), SubCheck("b", Outcome.UNAVAILABLE)]) is Outcome.UNAVAILABLE
    assert combine([SubCheck("a", Outcome.FAIL), SubCheck("b", Outcome.UNAVAILABLE)]) is Outcome.FAIL
    assert combine([SubCheck("a", Outcome.PASS)]) is Outcome.PASS
    assert combine([]) is Outcome.UNAVAILABLE


def test_checks_run_concurrently_and_keep_checklist_order(check_ctx, monkeypatch):
    items = fake_items(monkeypatch, {n: Outcome.PASS for n in ("a", "b", "c", "d")}, delay=0.5)
    started = time.monotonic()
    result = report.run_checks(items, check_ctx(), today=TODAY)
    assert time.monotonic() - started < 1.5  # four 0.5 s checks, not 2 s in a row
    assert [r.name for r in result.results] == ["a", "b", "c", "d"]
    assert result.passed


def test_unavailable_is_never_a_pass_and_errors_in_a_check_fail(check_ctx, monkeypatch):
    items = fake_items(monkeypatch, {"a": Outcome.PASS, "b": Outcome.UNAVAILABLE})

    def boom(ctx):
        raise RuntimeError("bug")

    items.append(registry.Item("c", ("runbook c",), "x:y"))
    functions = {"a": lambda ctx: Verdict(Outcome.PASS), "b": lambda ctx: Verdict(Outcome.UNAVAILABLE), "c": boom}
    monkeypatch.setattr(registry.Item, "function", lambda self: functions[self.name])
    result = report.run_checks(items, check_ctx(), today=TODAY)
    assert not result.passed
    assert result.outcomes == {"a": "PASS", "b": "UNAVAILABLE", "c": "FAIL"}
    assert "the check itself failed: RuntimeError: bug" in result.results[2].details


def test_a_valid_waiver_waives_and_an_expired_one_stops_counting(check_ctx, monkeypatch):
    items = fake_items(monkeypatch, {"audit": Outcome.UNAVAILABLE, "images": Outcome.FAIL, "secrets": Outcome.PASS})
    waivers = [waiver("audit", TODAY), waiver("images", TODAY - dt.timedelta(days=1))]
    result = report.run_checks(items, check_ctx(checks={"waivers": waivers}), today=TODAY)
    assert result.outcomes == {"audit": "WAIVED", "images": "FAIL", "secrets": "PASS"}
    assert result.results[0].details.startswith("WAIVED until 2026-11-28: vendor fix due next sprint (JIRA-123)")
    assert "(was UNAVAILABLE) audit said UNAVAILABLE" in result.results[0].details
    assert "waiver expired on 2026-11-27: not counted" in result.results[1].details
    assert result.notes == ["checks.waivers: the waiver for images expired on 2026-11-27 and no longer counts"]
    assert not result.passed
    # with only the valid waiver failing items, the checklist passes
    items = fake_items(monkeypatch, {"audit": Outcome.UNAVAILABLE, "secrets": Outcome.PASS})
    assert report.run_checks(items, check_ctx(checks={"waivers": waivers[:1]}), today=TODAY).passed


def test_waiver_needs_a_reason_and_a_known_check():
    from pydantic import ValidationError

    from pmis_deploy.checks.settings import Waiver

    with pytest.raises(ValidationError):
        Waiver(check="audit", reason="", expires=TODAY)
    with pytest.raises(ValidationError, match=r"is not a check \(did you mean secrets\?\)"):
        Waiver(check="secret", reason="a long enough reason", expires=TODAY)


def test_json_and_table(check_ctx, monkeypatch, tmp_path, capsys):
    items = fake_items(monkeypatch, {"a": Outcome.PASS, "b": Outcome.FAIL})
    result = report.run_checks(items, check_ctx(), today=TODAY)
    data = json.loads(result.write_json(tmp_path / "out" / "checks.json").read_text())
    assert data["passed"] is False
    assert data["outcomes"] == {"a": "PASS", "b": "FAIL"}
    assert data["checks"][1]["title"] == "runbook item b"
    assert set(data["checks"][1]) == {"name", "title", "outcome", "duration", "details", "findings"}
    result.render()
    out = capsys.readouterr()
    assert "runbook item a" in out.out and "FAIL" in out.out
    assert "checklist did not pass: b (FAIL)" in out.err


def test_run_gate_skipped_runs_nothing(check_ctx, monkeypatch):
    monkeypatch.setattr(registry.Item, "function", lambda self: pytest.fail("a check ran"))
    ctx = check_ctx()
    result = run_gate(LoadedSettings(ctx.settings, {}, ctx.root), skip_reason="hotfix for INC-42")
    assert (result.passed, result.skipped, result.skip_reason, result.outcomes) == (True, True, "hotfix for INC-42", {})
    with pytest.raises(GateFailed, match="needs a reason"):
        run_gate(LoadedSettings(ctx.settings, {}, ctx.root), skip_reason="  ")


def test_run_gate_runs_the_configured_checks(check_ctx, monkeypatch):
    seen = []
    lock = threading.Lock()

    def fn(name, outcome):
        def run(ctx):
            with lock:
                seen.append(name)
            return Verdict(outcome)

        return run

    functions = {"secrets": fn("secrets", Outcome.PASS), "compose": fn("compose", Outcome.FAIL)}
    monkeypatch.setattr(registry.Item, "function", lambda self: functions[self.name])
    ctx = check_ctx(deploy={"gate": ["compose", "secrets"]})
    result = run_gate(LoadedSettings(ctx.settings, {}, ctx.root), show=False)
    assert sorted(seen) == ["compose", "secrets"]
    assert (result.passed, result.skipped, result.outcomes) == (False, False, {"secrets": "PASS", "compose": "FAIL"})
    assert "compose (FAIL)" in str(result.error())


def test_run_gate_can_defer_the_image_scan_to_scan_images(check_ctx, monkeypatch):
    from pmis_deploy.checks import images as images_check
    from pmis_deploy.gate import scan_images

    seen = []

    def fake_images(ctx):
        seen.append((dict(ctx.images), ctx.defer_image_scan))
        return Verdict(Outcome.PASS if ctx.images or ctx.defer_image_scan else Outcome.UNAVAILABLE)

    monkeypatch.setattr(images_check, "check", fake_images)
    ctx = check_ctx(deploy={"gate": ["images"]})
    loaded = LoadedSettings(ctx.settings, {}, ctx.root)
    assert run_gate(loaded, show=False).outcomes == {"images": "UNAVAILABLE"}
    deferred = run_gate(loaded, show=False, defer_image_scan=True)
    assert (deferred.passed, deferred.deferred) == (True, ("images",))
    digest = "reg/pmis/api@sha256:" + "b" * 64
    after = scan_images(loaded, {"api": digest}, show=False)
    assert after.passed and after.outcomes == {"images": "PASS"}
    assert seen == [({}, False), ({}, True), ({"api": digest}, False)]
    with pytest.raises(GateFailed, match="needs the release's images"):
        scan_images(loaded, {}, show=False)
