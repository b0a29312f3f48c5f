"""Database URL normalisation shared by the app and its migrations."""

from __future__ import annotations

DRIVER_SCHEME = "postgresql+psycopg"


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for postgres://, postgresql:// and postgresql+psycopg:// URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL is not a URL (expected postgresql://… with user, password, host, database)")
    if scheme in ("postgres", "postgresql", DRIVER_SCHEME):
        return f"{DRIVER_SCHEME}://{rest}"
    raise ValueError(f"DATABASE_URL has scheme {scheme!r}; expected postgresql:// (psycopg 3 is used)")
