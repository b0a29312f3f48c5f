"""The Celery app: registered task, daily 00:00 UTC beat schedule, broker from the environment."""

from __future__ import annotations

import ssl

import pytest
from celery.schedules import crontab

from worker import settings
from worker.celery_app import CHECK_OVERDUE, app, make_app


def test_task_is_registered_and_scheduled_daily_at_midnight_utc() -> None:
    import worker.tasks  # noqa: F401  (registers the task)

    assert CHECK_OVERDUE in app.tasks
    entry = app.conf.beat_schedule["check-overdue-tasks-daily"]
    assert entry["task"] == CHECK_OVERDUE
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.hour, schedule.minute) == ({0}, {0})
    assert app.conf.timezone == "UTC" and app.conf.enable_utc is True
    assert app.conf.beat_schedule_filename.startswith("/tmp/")  # writable by the image's non-root user


def test_broker_comes_from_celery_broker_url_then_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.broker_url({"REDIS_URL": "redis://r:6379/0"}) == "redis://r:6379/0"
    assert settings.broker_url({"REDIS_URL": "redis://r", "CELERY_BROKER_URL": "redis://b"}) == "redis://b"
    assert settings.broker_url({}) is None
    monkeypatch.setenv("CELERY_BROKER_URL", "rediss://:token@cache:6379/0")
    tls_app = make_app()
    assert tls_app.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    monkeypatch.setenv("CELERY_BROKER_URL", "rediss://:t@cache:6378/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem")
    assert not make_app().conf.broker_use_ssl  # the URL's own TLS parameters are used as given


def test_database_url_is_required_and_normalised() -> None:
    assert settings.database_url({"DATABASE_URL": "postgres://u:p@h/d"}) == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(RuntimeError, match="DATABASE_URL is not set"):
        settings.database_url({})
    with pytest.raises(RuntimeError, match="postgresql://"):
        settings.database_url({"DATABASE_URL": "mysql://u@h/d"})


def test_health_listener_answers_on_port_only_when_port_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import socket
    import urllib.request

    from worker import health_server

    monkeypatch.delenv("PORT", raising=False)
    assert health_server.start_from_env() is None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PORT", str(port))
    server = health_server.start_from_env()
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "alive", "service": "worker"}
    finally:
        server.shutdown()
        server.server_close()
