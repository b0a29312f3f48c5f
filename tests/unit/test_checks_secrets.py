"""checks.secrets: detect-secrets over tracked files, with our plugins and the reviewed baseline."""

from __future__ import annotations

import json
import subprocess

import pytest

from pmis_deploy.checks import secrets_check
from pmis_deploy.checks.outcome import Outcome

# Planted values are assembled at run time so this file itself holds no secret-looking literal.
AWS_KEY = "AKIA" + "Q3EGRBTHXN5WJ7ZL"
SK_KEY = "sk-" + "proj4Fq9ZxLm2Vb7Tr8Kw1Yp3Hs6"
PASSWORD = "Vt9" + "qLx2Rw8Zp4Km"
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA " + "PRIVATE KEY-----\n"
HEX_TOKEN = "8f3a9c1e7b2d4f6a" + "0e5c3b1d9f7a2c4e6b8d0f1a"

CLEAN = {"app/main.py": "import os\n\nURL = os.environ['DATABASE_URL']\n", "README.md": "# demo\n"}


def findings_of(verdict):
    return {(f.location, f.message.split(" (")[0]) for f in verdict.findings}


def test_clean_tree_passes(check_ctx, git_tree):
    verdict = secrets_check.check(check_ctx(git_tree(CLEAN)))
    assert verdict.outcome is Outcome.PASS, verdict.details
    assert "2 tracked files" in verdict.details


def test_planted_secrets_are_found_by_file_and_line_and_never_printed(check_ctx, git_tree):
    root = git_tree(
        {
            **CLEAN,
            "app/keys.py": f'AWS = "{AWS_KEY}"\nOPENAI = "{SK_KEY}"\nTOKEN = "{HEX_TOKEN}"\n',
            "deploy/id_rsa": PRIVATE_KEY,
            "alembic.ini": f"[alembic]\nsqlalchemy.url = postgresql://postgres:{PASSWORD}@db:5432/pmis\n",
            ".env.production": f"DATABASE_PASSWORD={PASSWORD}\n",
        }
    )
    verdict = secrets_check.check(check_ctx(root))
    assert verdict.outcome is Outcome.FAIL
    found = findings_of(verdict)
    assert ("app/keys.py:1", "AWS Access Key") in found
    assert ("app/keys.py:2", "sk- API Key") in found
    assert ("app/keys.py:3", "Hex High Entropy String") in found
    assert ("deploy/id_rsa:1", "Private Key") in found
    assert ("alembic.ini:2", "Basic Auth Credentials") in found
    assert (".env.production:1", "Secret-named Variable Assignment") in found
    assert any(f.location == ".env.production" and "committed env file" in f.message for f in verdict.findings)
    shown = verdict.details + "".join(str(f) for f in verdict.findings)
    for secret in (AWS_KEY, SK_KEY, PASSWORD, HEX_TOKEN, "MIIEowIBAAKCAQEA7"):
        assert secret not in shown


def test_untracked_files_are_not_scanned(check_ctx, git_tree):
    root = git_tree(CLEAN)
    (root / "scratch.py").write_text(f'AWS = "{AWS_KEY}"\n')
    assert secrets_check.check(check_ctx(root)).outcome is Outcome.PASS


def test_env_example_is_scanned_but_is_not_a_committed_env_file(check_ctx, git_tree):
    root = git_tree({**CLEAN, ".env.example": "AZURE_OPENAI_API_KEY=your-key-here\nLOG_LEVEL=info\n"})
    verdict = secrets_check.check(check_ctx(root))
    assert verdict.outcome is Outcome.PASS, verdict.findings
    assert secrets_check.committed_env_files([".env.example", "a/.env", ".env.prod", "x.env.md"]) == [
        "a/.env",
        ".env.prod",
    ]


def test_reviewed_findings_in_the_baseline_pass_and_confirmed_ones_fail(check_ctx, git_tree):
    root = git_tree({**CLEAN, "docs/example.py": f'DEMO = "{AWS_KEY}"\n'})
    ctx = check_ctx(root)
    assert secrets_check.check(ctx).outcome is Outcome.FAIL
    path = secrets_check.update_baseline(ctx)
    baseline = json.loads(path.read_text())
    assert AWS_KEY not in path.read_text()
    assert [e["type"] for e in baseline["results"]["docs/example.py"]] == ["AWS Access Key"]
    verdict = secrets_check.check(ctx)
    assert verdict.outcome is Outcome.PASS, verdict.findings
    assert "1 reviewed finding" in verdict.details
    # a reviewer marks it as a real secret: it fails again
    baseline["results"]["docs/example.py"][0]["is_secret"] = True
    path.write_text(json.dumps(baseline))
    assert "is_secret: true" in secrets_check.check(ctx).findings[0].message
    # a new secret next to the reviewed one fails
    (root / "docs/other.py").write_text(f'KEY = "{SK_KEY}"\n')
    subprocess.run(["git", "-C", str(root), "add", "docs/other.py"], check=True)
    assert ("docs/other.py:1", "sk- API Key") in findings_of(secrets_check.check(ctx))


def test_missing_tool_is_unavailable(check_ctx, git_tree, monkeypatch):
    monkeypatch.setattr(secrets_check, "find_tool", lambda name: None)
    verdict = secrets_check.check(check_ctx(git_tree(CLEAN)))
    assert verdict.outcome is Outcome.UNAVAILABLE
    assert "pip install detect-secrets" in verdict.details


def test_not_a_git_checkout_is_unavailable(check_ctx, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    assert secrets_check.check(check_ctx(tmp_path)).outcome is Outcome.UNAVAILABLE


@pytest.mark.parametrize("text", ["not json", '{"version": "1"}'])
def test_broken_baseline_fails(check_ctx, git_tree, text):
    root = git_tree(CLEAN)
    (root / ".secrets.baseline").write_text(text)
    assert secrets_check.check(check_ctx(root)).outcome is Outcome.FAIL
