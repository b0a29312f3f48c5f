"""Settings from the environment, and the database URL normalisation."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.urls import normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u:p@h/d?sslmode=require", "postgresql+psycopg://u:p@h/d?sslmode=require"),
        ("postgresql+psycopg://u@/d?host=/cloudsql/p:r:i", "postgresql+psycopg://u@/d?host=/cloudsql/p:r:i"),
    ],
)
def test_urls_use_psycopg3(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u@h/d", "not a url"])
def test_other_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        normalise_database_url(bad)


def test_from_env_reads_every_variable_and_hides_secrets() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgres://app:s3cret@db/pmis",  # pragma: allowlist secret
            "REDIS_URL": "rediss://:tok@cache:6379/0",
            "AZURE_OPENAI_API_KEY": "key-123",  # pragma: allowlist secret
            "LOG_LEVEL": "debug",
            "ENVIRONMENT": "staging",
            "CORS_ALLOW_ORIGINS": "https://web.example.com/, http://localhost:3000",
        }
    )
    assert settings.cors_allow_origins == ["https://web.example.com", "http://localhost:3000"]
    expected = "postgresql+psycopg://app:s3cret@db/pmis"  # pragma: allowlist secret
    assert settings.database_url.get_secret_value() == expected
    assert settings.log_level == "DEBUG"
    assert settings.environment == "staging"
    assert settings.azure_openai_api_key is not None
    assert "s3cret" not in repr(settings) and "key-123" not in repr(settings)


def test_optional_variables_default_and_database_url_is_required() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@h/d"})
    assert (settings.redis_url, settings.azure_openai_api_key, settings.log_level) == (None, None, "INFO")
    assert settings.cors_allow_origins == []
    with pytest.raises(RuntimeError, match="DATABASE_URL is not set"):
        Settings.from_env({})
