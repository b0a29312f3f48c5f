"""Waiting for a service's health endpoint: 200 with a JSON body, or a clear failure with the last reason."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pmis_deploy.errors import ReleaseFailed
from pmis_deploy.redaction import redact

REQUEST_TIMEOUT = 5.0
REFUSED = "refused: a private service needs credentials, e.g. a Cloud Run ID token with roles/run.invoker"


def wait_healthy(
    url: str,
    path: str = "/health",
    timeout: float = 120.0,
    interval: float = 2.0,
    *,
    on_attempt: Callable[[int | None, str], None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Poll `url + path` until it answers 200; return its JSON body.

    `headers` go with every request (an `Authorization` ID token for a private Cloud Run service).

    Raises ReleaseFailed naming the last HTTP status (or connection error) and the service's reason
    (the `reason` field of our api's 503 body) when `timeout` seconds pass first.
    """
    import requests

    target = url.rstrip("/") + path
    deadline = time.monotonic() + timeout
    status: int | None = None
    reason = "no answer yet"
    while True:
        remaining = deadline - time.monotonic()
        try:
            response = requests.get(
                target, headers=dict(headers or {}), timeout=max(0.5, min(REQUEST_TIMEOUT, remaining))
            )
            status, reason = response.status_code, _reason(response)
            if status in (401, 403):
                reason = f"{reason} ({REFUSED})"
            if status == 200:
                body = _json(response)
                return body if isinstance(body, dict) else {"body": body}
        except requests.RequestException as exc:
            status, reason = None, _connection_reason(exc)
        if on_attempt:
            on_attempt(status, reason)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            shown = f"HTTP {status}" if status is not None else "no HTTP answer"
            raise ReleaseFailed(
                f"{redact(target)} was not healthy within {timeout:.0f}s: last {shown}: {redact(reason)}",
                hint="look at the service's logs; /health answers 503 until the database is reachable and migrated",
            )
        time.sleep(min(interval, remaining))


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"body": response.text[:500]}


def _reason(response: Any) -> str:
    body = _json(response)
    if isinstance(body, dict) and body.get("reason"):
        return str(body["reason"])
    if isinstance(body, dict) and "body" in body:
        return str(body["body"])[:200] or response.reason
    return str(response.reason or body)[:200]


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text or "Failed to establish" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "request timed out"
    return type(exc).__name__
