"""What every /api router shares: the request's database session and fetching a row by id (404 if absent)."""

from __future__ import annotations

import uuid
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, status
from sqlalchemy.orm import Session

from app.db import get_session

SessionDep = Annotated[Session, Depends(get_session)]
Row = TypeVar("Row")


def get_or_404(session: Session, model: type[Row], row_id: uuid.UUID, what: str) -> Row:
    """The `model` row with this id; HTTP 404 "<what> <id> not found" when there is none."""
    row = session.get(model, row_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {row_id} not found")
    return row
