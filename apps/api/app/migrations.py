"""Where the Alembic scripts are, and the heads they define (read once: code does not change at runtime)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

API_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None, *, configure_logger: bool = True) -> Config:
    """The Alembic config of this app: apps/api/alembic.ini (no URL in it; env.py reads DATABASE_URL).

    Embedding callers pass `database_url` instead of setting DATABASE_URL, and configure_logger=False
    to keep their own logging set-up.
    """
    config = Config(str(API_ROOT / "alembic.ini"))
    if database_url:
        config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = configure_logger
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at `database_url` in-process (tests, tooling)."""
    command.upgrade(alembic_config(database_url, configure_logger=False), revision)


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def code_heads() -> frozenset[str]:
    """The head revisions of the migration scripts shipped with this build."""
    return frozenset(_script().get_heads())


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this build has a script for."""
    return frozenset(rev.revision for rev in _script().walk_revisions())
