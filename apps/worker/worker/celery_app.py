"""The Celery app (`celery -A worker.celery_app worker|beat`) and its beat schedule.

Beat enqueues `check_overdue_tasks` daily at 00:00 UTC. Run beat as ONE process (a separate service
with one replica), never as a Cloud Run job: it never exits. Cloud Run jobs and cron-style schedulers
use the one-shot entrypoint `python -m worker.jobs.check_overdue_tasks` instead.
"""

from __future__ import annotations

import ssl

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

from worker import health_server, settings

CHECK_OVERDUE = "worker.tasks.check_overdue_tasks"


def make_app() -> Celery:
    broker = settings.broker_url()
    celery = Celery("pmis", broker=broker, include=["worker.tasks"])
    celery.conf.update(
        timezone="UTC",
        enable_utc=True,
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # The image's /app is read-only for the (non-root) user: beat keeps its state file in /tmp.
        beat_schedule_filename="/tmp/celerybeat-schedule",  # noqa: S108
        beat_schedule={
            "check-overdue-tasks-daily": {"task": CHECK_OVERDUE, "schedule": crontab(minute="0", hour="0")},
        },
    )
    if broker and broker.startswith("rediss://") and "ssl_cert_reqs=" not in broker:
        # TLS (ElastiCache transit encryption, Memorystore) verified against the system CAs, unless the URL
        # says how itself (?ssl_cert_reqs=required&ssl_ca_certs=/etc/pmis/redis-ca/ca.pem on GCP).
        celery.conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return celery


settings.configure_logging()
app = make_app()
worker_ready.connect(health_server.start_from_env, weak=False)  # Cloud Run services probe $PORT
