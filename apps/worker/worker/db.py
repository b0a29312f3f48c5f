"""The worker's access to the `tasks` table (SQLAlchemy Core; the api's migrations own the schema)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import Boolean, Column, Date, DateTime, Engine, MetaData, String, Table, Uuid, create_engine, func

CONNECT_TIMEOUT_SECONDS = 5
CLOSED_STATUSES = ("done", "cancelled")

metadata = MetaData()
tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("package_id", Uuid, nullable=False),
    Column("title", String(255), nullable=False),
    Column("due_date", Date),
    Column("status", String(32), nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})


def mark_overdue(engine: Engine, today: dt.date | None = None) -> int:
    """Flag open tasks whose due date is before `today` (UTC by default); return how many were flagged."""
    today = today or dt.datetime.now(dt.UTC).date()
    statement = (
        tasks.update()
        .where(tasks.c.due_date < today, tasks.c.overdue.is_(False), tasks.c.status.not_in(CLOSED_STATUSES))
        .values(overdue=True, updated_at=func.now())
    )
    with engine.begin() as conn:
        return conn.execute(statement).rowcount
