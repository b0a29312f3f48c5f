"""/api/tasks: list (optionally by package), create, get."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from app.models import Package, Task
from app.routers.common import SessionDep, get_or_404
from app.schemas import TaskIn, TaskOut

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskOut])
def list_tasks(
    session: SessionDep, package_id: uuid.UUID | None = None, overdue: bool | None = None, limit: int = 100
) -> list[Task]:
    query = select(Task).order_by(Task.due_date.nulls_last(), Task.created_at).limit(min(limit, 500))
    if package_id is not None:
        query = query.where(Task.package_id == package_id)
    if overdue is not None:
        query = query.where(Task.overdue.is_(overdue))
    return list(session.scalars(query))


@router.post("", response_model=TaskOut, status_code=status.HTTP_201_CREATED)
def create_task(body: TaskIn, session: SessionDep) -> Task:
    if session.get(Package, body.package_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"package {body.package_id} does not exist")
    task = Task(**body.model_dump())
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: uuid.UUID, session: SessionDep) -> Task:
    return get_or_404(session, Task, task_id, "task")
