"""Liveness (/livez: the process answers) and readiness (/health: the database answers AND its schema is
at the Alembic head of this build). Both are sync `def`, so FastAPI runs them in its threadpool and a slow
database never blocks the event loop. Failures are real HTTP 503s, never a 200 with an error body."""

from __future__ import annotations

import logging

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.migrations import code_heads, known_revisions

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


def schema_state(engine: Engine) -> tuple[frozenset[str], str | None]:
    """The database's current heads, and why it is not ready (None when it is at the code's head)."""
    with engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    expected = code_heads()
    if current == expected:
        return current, None
    if not current:
        return current, f"database has no migrations applied (expected {_show(expected)})"
    if current - known_revisions():
        return current, f"database is at {_show(current)}, unknown to this build (head {_show(expected)})"
    return current, f"database is behind: at {_show(current)}, head is {_show(expected)}"


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process is up (no database access: use for liveness probes)."""
    return {"status": "alive"}


@router.get("/health", response_model=None)
def health(request: Request) -> dict[str, object] | JSONResponse:
    """200 only when the database answers and is migrated to head; otherwise 503 with the reason."""
    engine: Engine = request.app.state.engine
    try:
        current, problem = schema_state(engine)
    except SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("health: database unreachable: %s", cause)
        return _unhealthy("database unreachable", database="disconnected", error=cause)
    if problem:
        return _unhealthy(problem, database="connected", migration_version=_show(current) or None)
    return {"status": "healthy", "database": "connected", "migration_version": _show(current)}


def _unhealthy(reason: str, **extra: object) -> JSONResponse:
    return JSONResponse(status_code=503, content={"status": "unhealthy", "reason": reason, **extra})


def _show(revisions: frozenset[str]) -> str:
    return ",".join(sorted(revisions))
