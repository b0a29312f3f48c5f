"""checks.compose and checks.workflows on small trees: real check-jsonschema, actionlint missing here."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from pmis_deploy.checks import compose, workflows
from pmis_deploy.checks.outcome import Outcome

SERVICE = """
  {name}:
    image: ${{REGISTRY:-pmis}}/{name}:${{TAG:?set TAG}}
    environment:
      DATABASE_URL: ${{DATABASE_URL}}
      LOG_LEVEL: info
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
"""
GOOD = "services:" + "".join(SERVICE.format(name=n) for n in ("api", "worker", "web"))


def write(root, text, name="docker-compose.prod.yml"):
    (root / name).write_text(textwrap.dedent(text))
    return root


def test_valid_compose_passes_and_says_it_was_not_run(check_ctx, tmp_path):
    verdict = compose.check(check_ctx(write(tmp_path, GOOD)))
    assert verdict.outcome is Outcome.PASS, verdict.details
    assert "compose-spec schema: PASS" in verdict.details
    assert "validated, not run" in verdict.details


def test_schema_typo_fails_with_its_json_path(check_ctx, tmp_path):
    verdict = compose.check(check_ctx(write(tmp_path, GOOD.replace("    image:", "    imag:", 1))))
    assert verdict.outcome is Outcome.FAIL
    assert any(f.location.endswith("$.services.api") and "imag" in f.message for f in verdict.findings)


@pytest.mark.parametrize(
    ("edit", "location", "message"),
    [
        (lambda t: t.replace("  web:", "  frontend:"), "services.web", "service missing"),
        (lambda t: t.replace("    image: ${REGISTRY:-pmis}/worker:${TAG:?set TAG}\n", ""), "services.worker", "image"),
        (
            lambda t: t.replace('      test: ["CMD", "true"]\n', "      disable: true\n", 1),
            "services.api",
            "healthcheck",
        ),
        (
            lambda t: t.replace("DATABASE_URL: ${DATABASE_URL}", "DATABASE_URL: postgresql://pmis:hunter22@db/pmis", 1),
            "services.api.environment.DATABASE_URL",
            "literal password",
        ),
        (
            lambda t: t.replace("LOG_LEVEL: info", "AZURE_OPENAI_API_KEY: abc123def456", 1),
            "services.api.environment.AZURE_OPENAI_API_KEY",
            "literal value for a secret",
        ),
    ],
)
def test_structure_problems_fail(edit, location, message):
    findings = compose.structure(yaml.safe_load(edit(GOOD)))  # the schema part is tested above, once
    assert any(f.location.endswith(location) and message in f.message for f in findings), findings
    assert "hunter22" not in str(findings) and "abc123def456" not in str(findings)


def test_structure_problems_fail_the_check(check_ctx, tmp_path):
    verdict = compose.check(check_ctx(write(tmp_path, GOOD.replace("  web:", "  frontend:"))))
    assert verdict.outcome is Outcome.FAIL
    assert "services api/worker/web: image, healthcheck, no literal secrets: FAIL (1 problem(s))" in verdict.details


def test_references_in_urls_and_list_environment_are_not_secrets():
    env = ["DATABASE_URL=postgresql://pmis:${DB_PASSWORD}@db/pmis", "API_TOKEN=${API_TOKEN:-}", "PORT=8000"]
    assert compose.literal_secrets("x", env) == []
    assert [f.location for f in compose.literal_secrets("x", ["SECRET_KEY=literal"])] == ["x.SECRET_KEY"]


def test_missing_compose_file_fails(check_ctx, tmp_path):
    assert compose.check(check_ctx(tmp_path)).outcome is Outcome.FAIL


WORKFLOW = """
name: ci
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo ok
"""


def workflow_tree(root, text):
    (root / ".github/workflows").mkdir(parents=True)
    return write(root, text, ".github/workflows/ci.yml")


def test_workflows_without_actionlint_are_unavailable_but_schema_checked(check_ctx, tmp_path, monkeypatch):
    real = workflows.find_tool
    monkeypatch.setattr(workflows, "find_tool", lambda n: None if n == "actionlint" else real(n))
    verdict = workflows.check(check_ctx(workflow_tree(tmp_path, WORKFLOW)))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "github-workflows schema: PASS" in verdict.details
    assert "actionlint: UNAVAILABLE (actionlint is not installed" in verdict.details


def test_workflow_schema_error_fails_even_without_actionlint(check_ctx, tmp_path, monkeypatch):
    real = workflows.find_tool
    monkeypatch.setattr(workflows, "find_tool", lambda n: None if n == "actionlint" else real(n))
    verdict = workflows.check(check_ctx(workflow_tree(tmp_path, WORKFLOW.replace("    steps:", "    step:"))))
    assert verdict.outcome is Outcome.FAIL
    assert any("ci.yml" in f.location for f in verdict.findings)


def test_actionlint_output_parsing():
    out = (
        '[{"message":"property \\"foo\\" is not defined","filepath":".github/workflows/ci.yml",'
        '"line":9,"column":3,"kind":"expression"}]'
    )
    sub = workflows.parse_actionlint(out, "", 1, 1)
    assert sub.outcome is Outcome.FAIL
    assert str(sub.findings[0]) == '[lint] .github/workflows/ci.yml:9: property "foo" is not defined [expression]'
    assert workflows.parse_actionlint("", "", 0, 2).outcome is Outcome.PASS


def test_no_workflows_fails(check_ctx, tmp_path):
    assert workflows.check(check_ctx(tmp_path)).outcome is Outcome.FAIL
