"""The embedded AWS emulator's knobs and its small control API (served next to moto's own API).

    GET    /pmis-emulator/          who am I: {"emulator": "pmis-aws", "pid", "started_at", "knobs", "resources"}
    GET    /pmis-emulator/knobs     the current knobs
    POST   /pmis-emulator/knobs     change some knobs: a JSON object, e.g. {"fail_images": [":broken"]}
    DELETE /pmis-emulator/knobs     back to the defaults
    POST   /moto-api/reset          moto's reset (wipes every resource) also resets the knobs

The knobs are described in `pmis_deploy.emulators.aws`. They live in the server process; in-process
(tests) they can also be changed with `set_knobs(...)` / `reset_knobs()`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KNOBS_ENV = "PMIS_EMULATOR_KNOBS"  # JSON object of knobs applied when the server starts
CONTROL_PREFIX = "/pmis-emulator/"
READY_WAIT_SECONDS = 120.0
STARTED_AT = time.time()


@dataclass
class Knobs:
    """How the emulated ECS behaves. See the module docstring of `pmis_deploy.emulators.aws`."""

    rollout_polls: int = 2  # describe_services polls until a healthy deployment is COMPLETED (0 = at once)
    rollout_seconds: float = 0.0  # ...and at least this many seconds since the deployment started
    fail_images: list[str] = field(default_factory=list)  # image substrings whose service tasks exit 1
    failure_threshold: int = 0  # failed tasks that trip the circuit breaker (0 = real ECS: max(3, desired/2))
    exit_code: int = 0  # exit code of one-off (run_task) tasks unless the task says otherwise
    task_polls: int = 1  # describe_tasks polls per one-off task step (PENDING → RUNNING → STOPPED)

    def update(self, values: dict[str, Any]) -> None:
        """Set some knobs, type-checked; unknown names are refused (ValueError)."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown knob {name!r} (known: {', '.join(known)})")
            default = getattr(Knobs(), name)
            setattr(self, name, _coerce(name, value, default))


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, list):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"knob {name} takes a list of strings")
        return list(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"knob {name} takes a number")
    if value < 0:
        raise ValueError(f"knob {name} must be >= 0")
    return type(default)(value)


KNOBS = Knobs()
LOCK = threading.RLock()  # guards the knobs and every emulated state transition
_REQUEST = threading.local()


def serving() -> bool:
    """True while this thread serves a request of the emulator (or inside `emulating()`).

    The ECS extension only changes moto's behaviour then, so other moto users in the same process
    (a test's `mock_aws`) keep plain moto whether or not the in-process emulator ran before.
    """
    return bool(getattr(_REQUEST, "active", False))


@contextmanager
def emulating() -> Iterator[None]:
    """Apply the ECS extension to direct moto backend calls in this thread (unit tests with mock_aws)."""
    previous = serving()
    _REQUEST.active = True
    try:
        yield
    finally:
        _REQUEST.active = previous


def set_knobs(**values: Any) -> Knobs:
    """Change knobs of the in-process emulator (the HTTP form is POST /pmis-emulator/knobs)."""
    with LOCK:
        KNOBS.update(values)
        return KNOBS


def reset_knobs() -> Knobs:
    with LOCK:
        KNOBS.__dict__.update(asdict(Knobs()))
        return KNOBS


def knobs_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Apply PMIS_EMULATOR_KNOBS (a JSON object) at server start."""
    environ = os.environ if environ is None else environ
    raw = environ.get("PMIS_EMULATOR_KNOBS")  # KNOBS_ENV, spelled out for `inv checks.env-docs`
    if raw:
        set_knobs(**json.loads(raw))


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ControlApp:
    """WSGI middleware: answers /pmis-emulator/*, resets knobs on moto's reset, passes the rest on."""

    def __init__(
        self,
        app: WsgiApp,
        resources: Callable[[], dict[str, int]] | None = None,
        ready: threading.Event | None = None,
    ) -> None:
        self.app = app
        self.resources = resources or dict
        self.ready = ready  # set once the ECS extension is installed; AWS requests wait for it

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return self._control(path, method, environ, start_response)
        if self.ready is not None and not self.ready.wait(timeout=READY_WAIT_SECONDS):
            return _reply(start_response, "503 Service Unavailable", {"error": "the emulator is still starting"})
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            reset_knobs()
        with emulating():  # moto builds the whole response inside this call
            return self.app(environ, start_response)

    def _control(
        self, path: str, method: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        route = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            if route == "" and method == "GET":
                body: Any = {
                    "emulator": "pmis-aws",
                    "pid": os.getpid(),
                    "started_at": STARTED_AT,
                    "knobs": asdict(KNOBS),
                    "resources": self.resources(),
                }
            elif route == "knobs" and method == "GET":
                body = asdict(KNOBS)
            elif route == "knobs" and method in ("POST", "PUT", "PATCH"):
                body = asdict(set_knobs(**_json_body(environ)))
            elif route == "knobs" and method == "DELETE":
                body = asdict(reset_knobs())
            else:
                return _reply(start_response, "404 Not Found", {"error": f"no route {method} {path}"})
        except ValueError as exc:
            return _reply(start_response, "400 Bad Request", {"error": str(exc)})
        return _reply(start_response, "200 OK", body)


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object of knobs")
    return data


def _reply(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
