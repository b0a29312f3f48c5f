"""The local PostgreSQL is started on demand only when local.database_url names it."""

from __future__ import annotations

import pytest

from pmis_deploy.config import load_settings
from pmis_deploy.emulators import local


@pytest.mark.parametrize(
    ("url", "managed"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:55432/pmis", True),
        ("postgresql+psycopg://postgres@localhost:55432/other", True),
        ("postgresql+psycopg://postgres@127.0.0.1:5999/pmis", False),
        ("postgresql+psycopg://app:pw@db.example.com:55432/pmis", False),  # pragma: allowlist secret
    ],
)
def test_manages_only_its_own_cluster(url: str, managed: bool) -> None:
    settings = load_settings("local", environ={"PMIS_LOCAL__DATABASE_URL": url}).settings
    assert local.manages(settings) is managed


def test_a_users_own_database_is_returned_untouched(tmp_path: object) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5999/pmis"
    settings = load_settings(
        "local", environ={"PMIS_LOCAL__DATABASE_URL": url, "PMIS_LOCAL__STATE_DIR": str(tmp_path)}
    ).settings
    assert local.ensure_database(settings) == url
    assert not (tmp_path / "postgres").exists()  # type: ignore[operator]
