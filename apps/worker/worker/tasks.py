"""Celery tasks."""

from __future__ import annotations

import logging

from worker import settings
from worker.celery_app import CHECK_OVERDUE, app
from worker.db import engine_for, mark_overdue

log = logging.getLogger(__name__)


@app.task(name=CHECK_OVERDUE)
def check_overdue_tasks() -> int:
    """Mark tasks past their due date as overdue; return how many were marked."""
    count = mark_overdue(engine_for(settings.database_url()))
    log.info("check_overdue_tasks: marked %d task(s) overdue", count)
    return count
