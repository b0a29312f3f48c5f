"""The worker's environment (the same variables as the api; see ENV_VARS.md).

The worker image does not contain the api package, so the small pieces it shares with it (URL
normalisation, the `tasks` table) are restated here; a test checks them against the api's migrations.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

DRIVER_SCHEME = "postgresql+psycopg"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL with the psycopg 3 driver (postgres:// and postgresql:// accepted)."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: the worker needs the PostgreSQL URL of the pmis database")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", DRIVER_SCHEME):
        raise RuntimeError("DATABASE_URL must be a postgresql:// URL")
    return f"{DRIVER_SCHEME}://{rest}"


def broker_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Celery broker: CELERY_BROKER_URL, else REDIS_URL (redis:// or rediss://)."""
    env = os.environ if environ is None else environ
    return env.get("CELERY_BROKER_URL") or env.get("REDIS_URL") or None


def log_level(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("LOG_LEVEL", "INFO").upper()


def configure_logging() -> None:
    """Log to stdout at LOG_LEVEL (the platform's log driver collects stdout)."""
    logging.basicConfig(level=log_level(), stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s %(message)s")
