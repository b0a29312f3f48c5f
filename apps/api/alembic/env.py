"""Alembic environment: the URL comes from DATABASE_URL (or, in-process, config.attributes), never the ini.

Callers embedding Alembic (pmis_deploy.db) may pass `config.attributes["database_url"]` or an open
`config.attributes["connection"]`.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.models import Base
from app.urls import normalise_database_url

config = context.config
# Embedding callers (tests, pmis_deploy.db) keep their own logging: attributes["configure_logger"] = False.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: export the PostgreSQL URL of the database to migrate")
    return normalise_database_url(url)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (alembic upgrade head --sql) without connecting."""
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    # configparser interpolates %, so a URL-encoded password (%40 …) must be escaped as %%.
    config.set_main_option("sqlalchemy.url", database_url().replace("%", "%%"))
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
