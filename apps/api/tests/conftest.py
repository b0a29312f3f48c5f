"""Fixtures for the api tests: a real PostgreSQL database (pg_url, from tests/fixtures/postgres.py),
migrated with the app's own Alembic scripts, and a TestClient on the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.migrations import upgrade
from app.settings import Settings


@pytest.fixture
def migrated_url(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def client(migrated_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=migrated_url))) as test_client:
        yield test_client
