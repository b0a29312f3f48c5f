"""Environments: merge order, provenance, validation errors that name file, key, value and fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pmis_deploy.config import describe, load_settings
from pmis_deploy.errors import ConfigError
from pmis_deploy.redaction import redact

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the real config/ directory to break in tests."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def write(tree: Path, name: str, text: str) -> None:
    (tree / "config" / name).write_text(text)


@pytest.mark.parametrize("env", ["local", "staging", "production"])
def test_every_shipped_environment_is_valid(env: str) -> None:
    loaded = load_settings(env, root=ROOT, environ={})
    assert loaded.settings.environment.value == env


def test_environment_file_overrides_base_and_records_the_source() -> None:
    loaded = load_settings("production", root=ROOT, environ={})
    assert loaded.settings.aws.database.multi_az is True
    assert loaded.source_of("aws.database.multi_az") == "config/production.toml"
    assert loaded.source_of("aws.region") == "config/production.toml"
    assert loaded.source_of("aws.database.backup_retention_days") == "config/base.toml"
    assert loaded.source_of("aws.cache.engine_version") == "default"


def test_dotenv_overrides_files_and_environment_overrides_dotenv(tree: Path) -> None:
    (tree / ".env").write_text("PMIS_AWS__REGION=eu-west-1\nPMIS_LOG_LEVEL=debug\n")
    loaded = load_settings("staging", root=tree, environ={"PMIS_LOG_LEVEL": "warning"})
    assert loaded.settings.aws.region == "eu-west-1"
    assert loaded.source_of("aws.region") == ".env (PMIS_AWS__REGION)"
    assert loaded.settings.log_level.value == "warning"
    assert loaded.source_of("log_level") == "environment (PMIS_LOG_LEVEL)"


def test_json_lists_from_the_environment() -> None:
    loaded = load_settings("local", root=ROOT, environ={"PMIS_DEPLOY__GATE": '["secrets", "compose"]'})
    assert loaded.settings.deploy.gate == ["secrets", "compose"]


def test_secrets_are_typed_redacted_in_show_and_registered(tree: Path) -> None:
    (tree / ".env").write_text("AZURE_OPENAI_API_KEY=sk-canary-0123456789abcdef\n")
    loaded = load_settings("local", root=tree, environ={})
    key = loaded.settings.secrets.azure_openai_api_key
    assert key is not None and key.get_secret_value() == "sk-canary-0123456789abcdef"
    shown = dict((k, v) for k, v, _ in describe(loaded))
    assert shown["secrets.azure_openai_api_key"] == "**********"
    assert "sk-canary" not in repr(loaded.settings)
    assert redact("key is sk-canary-0123456789abcdef") == "key is ***"


BAD_INPUTS = [
    # (file, content, expected fragments of the message)
    (
        "staging.toml",
        '[aws.database]\ninstance_class = "db.t3.mcro"\n',
        ["config/staging.toml", "aws.database.instance_class", '"db.t3.mcro"', "did you mean db.t3.micro?"],
    ),
    ("staging.toml", '[aws]\nregoin = "us-east-1"\n', ["config/staging.toml", "aws.regoin", "did you mean region?"]),
    (
        "staging.toml",
        '[gcp.sql]\navailability_type = "zonal"\n',
        ["config/staging.toml", "gcp.sql.availability_type", '"zonal"', "'ZONAL' or 'REGIONAL'"],
    ),
    ("staging.toml", '[aws]\nregion = "useast1"\n', ["aws.region", '"useast1"', "not an AWS region"]),
    (
        "staging.toml",
        "[aws.database]\nbackup_retention_days = 90\n",
        ["aws.database.backup_retention_days", "90", "35"],
    ),
    ("staging.toml", "[aws.services.api]\ncpu = 300\n", ["aws.services.api.cpu", "300", "Fargate CPU"]),
    ("staging.toml", 'log_level = "verbose"\n', ["log_level", '"verbose"', "'debug'"]),
    ("staging.toml", "[deploy\ngate = []\n", ["config/staging.toml", "not valid TOML", "line 1"]),
    ("staging.toml", 'environment = "production"\n', ["config/staging.toml", "'environment'", "remove the key"]),
    (
        "staging.toml",
        '[checks]\nwaivers = [{check = "audit", reason = "short", expires = 2027-01-01}]\n',
        ["checks.waivers", "reason", "at least 10 characters"],
    ),
    (
        "staging.toml",
        '[aws.database]\nengine_version = "16"\n',
        ["aws.database.engine_version", '"16"', "PostgreSQL 15"],
    ),
]


@pytest.mark.parametrize(("name", "content", "fragments"), BAD_INPUTS, ids=[b[2][1] for b in BAD_INPUTS])
def test_bad_config_names_file_key_value_and_fix(tree: Path, name: str, content: str, fragments: list[str]) -> None:
    write(tree, name, content)
    with pytest.raises(ConfigError) as exc:
        load_settings("staging", root=tree, environ={})
    message = exc.value.render()
    for fragment in fragments:
        assert fragment in message, message


def test_bad_environment_variable_names_the_variable(tree: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings("staging", root=tree, environ={"PMIS_AWS__DATABASE__MULTI_AZ": "perhaps"})
    assert "environment (PMIS_AWS__DATABASE__MULTI_AZ)" in exc.value.render()
    assert '"perhaps"' in exc.value.render()


def test_unknown_environment_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings("prod", root=ROOT, environ={})
    assert "did you mean production?" in exc.value.render()
    assert "local, production, staging" in exc.value.render()


def test_missing_environment_file(tree: Path) -> None:
    (tree / "config" / "staging.toml").unlink()
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        load_settings("staging", root=tree, environ={})


def test_secret_values_never_appear_in_errors(tree: Path) -> None:
    write(tree, "local.toml", "[local]\ndatabase_url = 12\n")
    with pytest.raises(ConfigError) as exc:
        load_settings("local", root=tree, environ={})
    assert '"***"' in exc.value.render()


def test_nothing_is_lost_on_error(tree: Path) -> None:
    """A bad value fails the load but leaves the user's files untouched."""
    content = '[aws]\nregion = "nowhere"\n'
    write(tree, "staging.toml", content)
    with pytest.raises(ConfigError):
        load_settings("staging", root=tree, environ={})
    assert (tree / "config" / "staging.toml").read_text() == content
