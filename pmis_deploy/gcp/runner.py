"""`Gcloud`: the one way this package runs the gcloud CLI.

    gcloud = Gcloud.for_settings(settings, dry_run=True)
    gcloud.run(Cmd(("run", "services", "list"), scope="region"))    # → parsed JSON
    gcloud.run(Cmd(("sql", "instances", "create"), ...))             # dry-run: raises DryRunViolation

- argv lists only, through pmis_deploy.shell.Runner (echo, redaction, timeouts);
- `--format=json --quiet --project=… [--region=…|--location=…]` added once (see `Cmd.argv`);
- dry-run refuses every mutating verb here, before anything starts;
- stderr mapped to typed errors (pmis_deploy.gcp.errors);
- invocations counted (`calls`, `mutating_calls`); `parallel()` runs independent commands concurrently.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pmis_deploy.errors import CommandError, DryRunViolation
from pmis_deploy.gcp.command import Cmd
from pmis_deploy.gcp.errors import GcloudError, NotFound, from_command_error
from pmis_deploy.shell import Runner

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

T = TypeVar("T")
MAX_PARALLEL = 6


@dataclass
class Gcloud:
    """Runs `Cmd`s for one project and region."""

    project: str
    region: str
    dry_run: bool = False
    runner: Runner = field(default_factory=lambda: Runner(echo=False))
    env: Mapping[str, str] = field(default_factory=dict)
    binary: str = "gcloud"
    embedded: bool = False  # the local fake (images are not pushed; migration/health run locally)
    calls: Counter[str] = field(default_factory=Counter)  # "run services list" → n
    log: list[tuple[str, bool, float]] = field(default_factory=list)  # (command, read_only, seconds)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_settings(cls, settings: Settings, *, dry_run: bool = False, echo: bool = True) -> Gcloud:
        """A runner for the environment: the embedded fake for `gcp.endpoint = "embedded"`."""
        env: dict[str, str] = {"CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
        embedded = settings.gcp.endpoint == "embedded"
        if embedded:
            from pmis_deploy.emulators import gcp as fake

            port = _port_of(fake.ensure_running(settings))
            config_dir = Path(settings.local.state_dir) / "gcloud"
            config_dir.mkdir(parents=True, exist_ok=True)
            env.update(fake.gcloud_env(port, str(config_dir.resolve()), project=settings.gcp.project))
        return cls(
            project=settings.gcp.project,
            region=settings.gcp.region,
            dry_run=dry_run,
            runner=Runner(echo=echo),
            env=env,
            embedded=embedded,
        )

    # --- running -------------------------------------------------------------------------------
    def argv(self, cmd: Cmd) -> list[str]:
        return cmd.argv(self.project, self.region, binary=self.binary)

    def run(self, cmd: Cmd, *, read_only: bool | None = None, timeout: float | None = None) -> Any:
        """Run `cmd`; return its parsed JSON output (None when it prints nothing).

        Raises DryRunViolation for a mutating verb in dry-run, and a GcloudError subclass on failure.
        """
        reads = cmd.read_only if read_only is None else read_only
        if self.dry_run and not reads:
            raise DryRunViolation(
                f"dry-run refused a mutating gcloud command: {cmd.display_name}",
                hint="planning code must only describe/list/get; this is a bug in the caller",
            )
        import time

        started = time.monotonic()
        argv = self.argv(cmd)
        flags_file = _flags_file(cmd)
        if flags_file:
            argv.append(f"--flags-file={flags_file}")  # after the command: its flags live there
        try:
            result = self.runner.run(argv, mutating=False, input=cmd.input, env=self.env, timeout=timeout)
        except CommandError as exc:
            raise from_command_error(exc) from None
        finally:
            if flags_file:
                os.unlink(flags_file)
            with self._lock:
                self.calls[" ".join(cmd.path)] += 1
                self.log.append((cmd.display_name, reads, time.monotonic() - started))
        text = result.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    def maybe(self, cmd: Cmd) -> Any:
        """Like run, but a NotFound becomes None (describe of something that may not exist)."""
        try:
            return self.run(cmd)
        except NotFound:
            return None

    def run_all(self, cmds: Sequence[Cmd]) -> list[Any]:
        """Run independent commands concurrently; results in order. The first failure is raised."""
        return self.parallel([lambda c=c: self.run(c) for c in cmds])  # type: ignore[misc]

    def parallel(self, jobs: Iterable[Callable[[], T]]) -> list[T]:
        """Call independent functions concurrently (each may run gcloud); results in order."""
        jobs = list(jobs)
        if len(jobs) <= 1:
            return [job() for job in jobs]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(jobs))) as pool:
            futures = [pool.submit(job) for job in jobs]
            errors = [f.exception() for f in futures]
            for error in errors:
                if error is not None:
                    raise error
            return [f.result() for f in futures]

    # --- accounting ----------------------------------------------------------------------------
    @property
    def invocations(self) -> int:
        return sum(self.calls.values())

    def mutating_calls(self) -> list[str]:
        return [name for name, reads, _ in self.log if not reads]


def _port_of(url_or_port: object) -> int:
    """The port of what ensure_running returned (a URL like http://127.0.0.1:5056, or a port)."""
    if isinstance(url_or_port, int):
        return url_or_port
    from urllib.parse import urlsplit

    port = urlsplit(str(url_or_port)).port
    if port is None:
        raise GcloudError(f"the embedded GCP fake returned no port ({url_or_port!r})")
    return port


def _flags_file(cmd: Cmd) -> str | None:
    """Write the command's secret flags to a new 0600 YAML (JSON) flags file; None when it has none."""
    if not cmd.secret_options:
        return None
    import tempfile

    from pmis_deploy.redaction import register_secret

    for _, value in cmd.secret_options:
        register_secret(value)
    fd, path = tempfile.mkstemp(prefix="pmis-gcloud-flags-", suffix=".yaml")
    with os.fdopen(fd, "w") as fh:  # mkstemp creates the file 0600
        json.dump(dict(cmd.secret_options), fh)
    return path
