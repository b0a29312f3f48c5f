"""check_overdue_tasks against a real database: which tasks it flags, idempotence, the Celery task."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from worker.db import engine_for, mark_overdue, tasks

pytestmark = pytest.mark.integration
TODAY = dt.date(2026, 6, 15)


def _add(url: str, package_id: str, title: str, due: dt.date | None, status: str = "open") -> None:
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO tasks (package_id, title, due_date, status) VALUES (:p, :t, :d, :s)"),
            {"p": package_id, "t": title, "d": due, "s": status},
        )


def _overdue_titles(url: str) -> set[str]:
    with engine_for(url).connect() as conn:
        return set(conn.scalars(sa.select(tasks.c.title).where(tasks.c.overdue)))


def test_marks_only_open_tasks_past_their_due_date(schema_url: str, package_id: str) -> None:
    _add(schema_url, package_id, "late", TODAY - dt.timedelta(days=1))
    _add(schema_url, package_id, "late-in-progress", TODAY - dt.timedelta(days=30), "in_progress")
    _add(schema_url, package_id, "late-but-done", TODAY - dt.timedelta(days=1), "done")
    _add(schema_url, package_id, "late-but-cancelled", TODAY - dt.timedelta(days=1), "cancelled")
    _add(schema_url, package_id, "due-today", TODAY)
    _add(schema_url, package_id, "future", TODAY + dt.timedelta(days=1))
    _add(schema_url, package_id, "no-date", None)
    engine = engine_for(schema_url)
    assert mark_overdue(engine, TODAY) == 2
    assert _overdue_titles(schema_url) == {"late", "late-in-progress"}
    assert mark_overdue(engine, TODAY) == 0  # already flagged: nothing to do
    assert mark_overdue(engine, TODAY + dt.timedelta(days=1)) == 1  # due-today becomes late tomorrow


def test_the_celery_task_runs_eagerly_with_database_url(
    schema_url: str, package_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.tasks import check_overdue_tasks

    _add(schema_url, package_id, "long ago", dt.date(2020, 1, 1))
    monkeypatch.setenv("DATABASE_URL", schema_url.replace("postgresql+psycopg", "postgres"))
    assert check_overdue_tasks.apply().get() == 1
    assert check_overdue_tasks.apply().get() == 0


def test_worker_table_matches_the_migrated_schema(schema_url: str) -> None:
    reflected = sa.Table("tasks", sa.MetaData(), autoload_with=engine_for(schema_url))
    assert set(reflected.c.keys()) == set(tasks.c.keys())
    for column in tasks.c:
        assert type(reflected.c[column.name].type)._type_affinity is type(column.type)._type_affinity, column.name
        assert reflected.c[column.name].nullable == column.nullable, column.name
