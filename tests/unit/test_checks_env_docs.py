"""checks.env-docs: every variable read is documented in ENV_VARS.md, and nothing documented is unused."""

from __future__ import annotations

import textwrap

from pmis_deploy.checks import env_docs
from pmis_deploy.checks.outcome import Outcome
from pmis_deploy.config import ALIASES
from pmis_deploy.envvars import RUNTIME_VARIABLES

ALWAYS = sorted({*ALIASES, *RUNTIME_VARIABLES, "PMIS_ENV"})


def doc(names):
    rows = "\n".join(f"| `{n}` | what it is | yes |" for n in names)
    return f"# Environment variables\n\n| variable | purpose | required |\n|---|---|---|\n{rows}\n"


def tree(root, names=ALWAYS, extra_files=None):
    files = {
        "apps/api/app/settings.py": textwrap.dedent(
            """
            import os
            from pydantic_settings import BaseSettings, SettingsConfigDict

            DB = os.environ["DATABASE_URL"]
            LEVEL = os.getenv('LOG_LEVEL', 'info')

            def read(env):
                return env.get("SENTRY_DSN")

            class Flags(BaseSettings):
                model_config = SettingsConfigDict(env_prefix="PMIS_API_")
                feature_x: bool = False
            """
        ),
        "apps/api/tests/test_x.py": 'import os\nos.environ["ONLY_IN_TESTS"]\n',
        "apps/web/src/api.ts": "export const url = process.env.NEXT_PUBLIC_API_URL ?? process.env.NODE_ENV;\n",
        "apps/web/node_modules/x/index.js": "process.env.SOMETHING_VENDORED\n",
        "docker-compose.prod.yml": (
            "services:\n  api:\n    image: x/${TAG:-latest}\n    environment: [PORT=$${NOT_A_REF}]\n"
        ),
        "ENV_VARS.md": doc(names),
        **(extra_files or {}),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


ALL = [*ALWAYS, "SENTRY_DSN", "PMIS_API_FEATURE_X", "TAG"]


def test_complete_documentation_passes(check_ctx, tmp_path):
    verdict = env_docs.check(check_ctx(tree(tmp_path, ALL)))
    assert verdict.outcome is Outcome.PASS, verdict.findings


def test_undocumented_variables_fail_with_where_they_are_read(check_ctx, tmp_path):
    names = [n for n in ALL if n not in ("SENTRY_DSN", "PMIS_API_FEATURE_X", "TAG")]
    verdict = env_docs.check(check_ctx(tree(tmp_path, names)))
    assert verdict.outcome is Outcome.FAIL
    assert {(f.location, f.message) for f in verdict.findings} == {
        ("apps/api/app/settings.py:9", "SENTRY_DSN is read but not documented in ENV_VARS.md"),
        ("apps/api/app/settings.py:13", "PMIS_API_FEATURE_X is read but not documented in ENV_VARS.md"),
        ("docker-compose.prod.yml:3", "TAG is read but not documented in ENV_VARS.md"),
    }


def test_documented_but_unused_fails(check_ctx, tmp_path):
    verdict = env_docs.check(check_ctx(tree(tmp_path, [*ALL, "OLD_FEATURE_FLAG"])))
    assert verdict.outcome is Outcome.FAIL
    assert [(f.location.split(":")[0], f.message) for f in verdict.findings] == [
        ("ENV_VARS.md", "OLD_FEATURE_FLAG is documented but nothing reads it")
    ]


def test_settings_overrides_and_own_tooling_variables_may_be_documented(check_ctx, tmp_path):
    extra = {"pmis_deploy/guard.py": 'import os\nos.environ.get("CI")\n'}
    verdict = env_docs.check(check_ctx(tree(tmp_path, [*ALL, "PMIS_AWS__REGION", "CI"], extra)))
    assert verdict.outcome is Outcome.PASS, verdict.findings
    assert not env_docs.settings_override("PMIS_AWS__NO_SUCH_KEY")


def test_missing_doc_fails(check_ctx, tmp_path):
    root = tree(tmp_path, ALL)
    (root / "ENV_VARS.md").unlink()
    assert env_docs.check(check_ctx(root)).outcome is Outcome.FAIL


def test_doc_table_parsing():
    text = "intro `NOT_A_ROW`\n| name | x |\n|---|---|\n| `A_VAR` / `B_VAR` | `C_IN_TEXT` |\n"
    assert env_docs.documented_names(text) == {"A_VAR": 4, "B_VAR": 4}
