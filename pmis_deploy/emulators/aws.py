"""The embedded local AWS: moto's server with an extended ECS, started on demand and kept running.

`aws.endpoint_url = "embedded"` (the `local` environment) makes `AwsClients.for_settings` call
`ensure_running(settings)`: it returns the URL of the emulator recorded under
`<local.state_dir>/aws/` if it answers, else starts `python -m pmis_deploy.emulators.aws_server`
detached (its own session, log in `<state_dir>/aws/server.log`) and waits until it answers. Its state
(everything created through it) lives in that process's memory, so it persists between commands
until `inv local.down` (`stop(settings)`). Tests use `embedded_server()` in-process instead
(`tests/fixtures/aws.py`: fixtures `aws_server`, `aws_endpoint`, `aws_knobs`).

What the extension adds to moto's ECS (`aws_ecs.py`; moto's gaps are in ARCHITECTURE.md):

- update_service with a new task definition (or forceNewDeployment) starts a new PRIMARY deployment
  (IN_PROGRESS); the previous one becomes ACTIVE and drains. After `rollout_polls` describe_services
  polls the new deployment is COMPLETED with runningCount = desiredCount and the ACTIVE one is gone.
  create_service starts the first deployment the same way. service.taskDefinition is the full ARN.
- deploymentConfiguration (circuit breaker included), healthCheckGracePeriodSeconds and
  enableExecuteCommand are stored and returned.
- A failing rollout: each poll starts tasks that stop at once ("Essential container in task exited",
  exit code 1; visible as STOPPED tasks through list_tasks(serviceName=…) / describe_tasks, and as
  service events), failedTasks grows, and when it reaches the circuit-breaker threshold with the
  breaker enabled the deployment is FAILED ("ECS deployment circuit breaker: tasks failed to start.");
  with rollback=true a new PRIMARY deployment on the previous task definition starts and completes.
  Without a breaker the deployment stays IN_PROGRESS, failing, as in real ECS.
- run_task (one-off tasks such as the migration) goes PENDING → RUNNING → STOPPED over describe_tasks
  polls and stops with stopCode EssentialContainerExited, stoppedReason "Essential container in task
  exited" and containers[0].exitCode set. Fargate task definitions with only task-level memory work.
- create_service on an existing ACTIVE service fails with InvalidParameterException "Creation of
  service was not idempotent." list_tasks(serviceName=…) filters by service.

Knobs: how a test or a local user makes things fail
---------------------------------------------------
In the task definition (travels with it; set it in a container's `environment`):
  PMIS_EMULATOR_FAIL=1         every task of this task definition exits 1: a service rollout to it
                               fails (and rolls back with the circuit breaker); run_task exits 1.
  PMIS_EMULATOR_EXIT_CODE=<n>  a one-off task exits with n. Also honoured in run_task's
                               overrides.containerOverrides[].environment (takes precedence).
In the server (GET/POST/DELETE http://127.0.0.1:5055/pmis-emulator/knobs, a JSON object; in-process
`set_knobs(...)`; at start the env var PMIS_EMULATOR_KNOBS='{"rollout_polls": 3}'):
  rollout_polls      (2)   describe_services polls until a healthy deployment completes (0 = at once)
  rollout_seconds    (0)   and at least this many seconds after it started
  fail_images        ([])  tasks whose image contains one of these strings fail like PMIS_EMULATOR_FAIL
                           e.g. curl -X POST localhost:5055/pmis-emulator/knobs -d '{"fail_images": [":bad"]}'
  failure_threshold  (0)   failed tasks that trip the circuit breaker; 0 = ECS's max(3, desired/2)
  exit_code          (0)   exit code of one-off tasks that name none
  task_polls         (1)   describe_tasks polls per one-off task step
`POST /moto-api/reset` wipes all resources and resets the knobs.

The extension changes moto only for requests the emulator serves: other moto users in the same
process (a unit test's `mock_aws`) keep plain moto; `aws_control.emulating()` turns it on for them.
Users with their own LocalStack or moto server set the standard AWS_ENDPOINT_URL (it wins over
"embedded") or `aws.endpoint_url`; the extension then does not apply.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy.emulators.daemon import DetachedServer, code_version, state_root

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

SERVER_MODULE = "pmis_deploy.emulators.aws_server"
PROBE_PATH = "/pmis-emulator/"


def server(settings: Settings) -> DetachedServer:
    """The detached emulator of these settings: `<state_dir>/aws`, port `local.aws_port`."""
    port = settings.local.aws_port
    return DetachedServer(
        "aws",
        state_root(settings) / "aws",
        port,
        [sys.executable, "-m", SERVER_MODULE, "--port", str(port)],
        probe_path=PROBE_PATH,
        announce=_info,
        version=_code_version(),
    )


def _code_version() -> str:
    """The emulator's own modules and the moto release (a restarted AWS emulator starts empty)."""
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    return code_version(
        *(here / f"{name}.py" for name in ("aws_server", "aws_ecs", "aws_control")), extra=version("moto")
    )


def _info(message: str) -> None:
    from pmis_deploy.console import info

    info(message)


def ensure_running(settings: Settings) -> str:
    """The endpoint URL of the embedded AWS, started (detached) if it is not running."""
    return server(settings).ensure_running().url


def stop(settings: Settings) -> bool:
    """Stop the embedded AWS (its state is lost). False if it was not running."""
    return server(settings).stop()


def status(settings: Settings) -> dict[str, Any]:
    """running, pid, url, uptime_seconds, cold_start_seconds, log, resources (counts)."""
    return server(settings).status()


@contextmanager
def embedded_server(port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """An in-process extended moto server (tests): yields its URL, stops it at the end."""
    from pmis_deploy.emulators.aws_server import ExtendedMotoServer

    srv = ExtendedMotoServer(ip_address=host, port=port, verbose=False)
    srv.start()
    try:
        bound_host, bound_port = srv.get_host_and_port()
        yield f"http://{bound_host}:{bound_port}"
    finally:
        srv.stop()


def set_knobs(url: str, **values: Any) -> dict[str, Any]:
    """Change knobs of the emulator at `url` over HTTP; returns all knobs."""
    return _call(url, "POST", "/pmis-emulator/knobs", values)


def reset(url: str) -> None:
    """Wipe every resource of the emulator at `url` and reset its knobs (moto's reset)."""
    _call(url, "POST", "/moto-api/reset", None)


def _call(url: str, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(  # noqa: S310 - a loopback URL we were given
        url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
