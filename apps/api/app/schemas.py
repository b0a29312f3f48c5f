"""Request and response bodies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["open", "in_progress", "done", "cancelled"]


class PackageIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict)


class PackageOut(PackageIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime


class TaskIn(BaseModel):
    package_id: uuid.UUID
    title: str = Field(min_length=1, max_length=255)
    due_date: dt.date | None = None
    status: TaskStatus = "open"


class TaskOut(TaskIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    overdue: bool
    created_at: dt.datetime
    updated_at: dt.datetime
