"""Settings from the environment (12-factor): the container platform injects them.

DATABASE_URL   PostgreSQL URL (postgresql://, postgres:// or postgresql+psycopg://), required
REDIS_URL      Celery broker / cache URL (redis:// or rediss://), optional for the api
AZURE_OPENAI_API_KEY  optional
LOG_LEVEL      debug|info|warning|error (default info)
ENVIRONMENT    local|staging|production (default local)
CORS_ALLOW_ORIGINS  comma-separated origins allowed to call the api from a browser (the web app's URL)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field, SecretStr, field_validator

from app.urls import normalise_database_url


class Settings(BaseModel):
    """The api's configuration, validated once at start-up."""

    database_url: SecretStr
    redis_url: SecretStr | None = None
    azure_openai_api_key: SecretStr | None = None
    log_level: str = Field("INFO")
    environment: str = "local"
    cors_allow_origins: list[str] = Field(default_factory=list)

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return normalise_database_url(raw) if isinstance(raw, str) else value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the variables above; a missing DATABASE_URL is a clear start-up error."""
        env = os.environ if environ is None else environ
        if not env.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL is not set: the api needs the PostgreSQL URL of its database")
        return cls(
            database_url=env["DATABASE_URL"],
            redis_url=env.get("REDIS_URL") or None,
            azure_openai_api_key=env.get("AZURE_OPENAI_API_KEY") or None,
            log_level=env.get("LOG_LEVEL", "INFO"),
            environment=env.get("ENVIRONMENT", "local"),
            cors_allow_origins=cors_origins(env),
        )


def cors_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    """CORS_ALLOW_ORIGINS split on commas (empty: no cross-origin browser access)."""
    env = os.environ if environ is None else environ
    return [o.strip().rstrip("/") for o in env.get("CORS_ALLOW_ORIGINS", "").split(",") if o.strip()]
