"""Worker tests run against a real PostgreSQL database migrated with the api's own migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.migrations import upgrade


@pytest.fixture
def schema_url(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def package_id(schema_url: str) -> str:
    engine = sa.create_engine(schema_url)
    try:
        with engine.begin() as conn:
            return str(conn.scalar(sa.text("INSERT INTO packages (code, title) VALUES ('P', 'p') RETURNING id")))
    finally:
        engine.dispose()
