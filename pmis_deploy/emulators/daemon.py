"""A local server kept running between commands: started detached on demand, found again, stopped.

The embedded emulators of the `local` environment (AWS, GCP) are long-lived processes that outlive the
`inv` command that started them, so their state (services, deployments, releases) persists from one
command to the next. Each one has a directory under the local state dir holding:

    server.json   what was started: pid, port, url, argv, start time, cold-start time
    server.pid    the pid alone (for `kill $(cat …)`)
    server.log    the server's stdout and stderr
    lock          serialises concurrent `ensure_running` calls (two `inv` commands at once)

    server = DetachedServer("aws", Path(".pmis-local/aws"), 5055,
                            [sys.executable, "-m", "pmis_deploy.emulators.aws_server", "--port", "5055"],
                            probe_path="/pmis-emulator/")
    server.ensure_running().url   # starts it, or finds the running one
    server.stop()

The server must answer `GET <probe_path>` with HTTP 200 once it is ready, ideally with a JSON object
holding its `pid` (so a server whose record was lost can be adopted instead of clashing on the port).

Starting a daemon is the one kind of process `shell.Runner` cannot start (it waits for the command
to finish), so it happens here, from an argv list, never through a shell.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import CommandError, DeployError

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 2.0

# Started servers that are children of this process: waited for on stop so they leave no zombie.
_children: dict[int, subprocess.Popen[bytes]] = {}


def state_root(settings: Settings) -> Path:
    """The local state directory (`local.state_dir`), relative paths taken from the project root."""
    path = Path(settings.local.state_dir).expanduser()
    if path.is_absolute():
        return path
    from pmis_deploy.config import project_root

    try:
        return project_root() / path
    except DeployError:
        return Path.cwd() / path


@dataclass(frozen=True)
class ServerRecord:
    """What `server.json` says about a started server."""

    pid: int
    port: int
    url: str
    argv: list[str]
    started_at: float
    cold_start_seconds: float | None = None
    version: str | None = None  # fingerprint of the code it runs (a changed checkout restarts it)

    @property
    def uptime_seconds(self) -> float:
        return max(0.0, time.time() - self.started_at)


class DetachedServer:
    """One named local server: its state directory, port, command line and readiness probe."""

    def __init__(
        self,
        name: str,
        directory: Path,
        port: int,
        argv: list[str],
        *,
        probe_path: str = "/",
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        ready_timeout: float = READY_TIMEOUT,
        announce: Callable[[str], None] | None = None,
        version: str | None = None,
    ) -> None:
        self.name = name
        self.directory = Path(directory)
        self.port = port
        self.argv = argv
        self.probe_path = probe_path
        self.host = host
        self.env = env or {}
        self.ready_timeout = ready_timeout
        self.announce = announce or (lambda message: None)  # progress lines while starting (stderr)
        self.version = version  # see code_version(); None: never restarted for its code

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def record_path(self) -> Path:
        return self.directory / "server.json"

    @property
    def pid_path(self) -> Path:
        return self.directory / "server.pid"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    # ---- reading state ---------------------------------------------------------------------------------

    def read_record(self) -> ServerRecord | None:
        try:
            data = json.loads(self.record_path.read_text())
            return ServerRecord(**data)
        except (OSError, ValueError, TypeError):
            return None

    def probe(self) -> dict[str, Any] | None:
        """The server's answer to the readiness probe (a dict, `{}` if not JSON), or None if none."""
        try:
            with urllib.request.urlopen(self.url + self.probe_path, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
                body = response.read()
        except (OSError, urllib.error.URLError, ValueError):
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    def running(self) -> ServerRecord | None:
        """The record of the server if it is running and answering, else None."""
        record = self.read_record()
        if record is None or record.port != self.port or not _alive(record.pid):
            return None
        answer = self.probe()
        if answer is None or answer.get("pid", record.pid) != record.pid:
            return None
        return record

    # ---- changing state --------------------------------------------------------------------------------

    def ensure_running(self) -> ServerRecord:
        """The running server, started (detached, in its own session) if it is not running."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            record = self.running()
            if record is not None and self.version is not None and record.version != self.version:
                self.announce(
                    f"restarting the local {self.name} emulator (pid {record.pid}): it runs code older than "
                    "this checkout's"
                )
                _terminate(record.pid)
                return self._start()
            if record is not None:
                return record
            record = self.read_record()
            ours = record is not None and _alive(record.pid) and self._is_ours(record)
            if record is not None and ours and record.port != self.port:
                _terminate(record.pid)  # the port setting changed: replace it, leave no orphan behind
            elif record is not None and ours:
                if self._answers_within(self.ready_timeout):  # ours, just slow (a busy machine)
                    return record
                raise DeployError(
                    f"the local {self.name} emulator (pid {record.pid}) runs but does not answer on {self.url}"
                    + self._log_tail(),
                    hint=f"stop it (inv local.down) and retry; its log is {self.log_path}",
                )
            answer = self.probe()
            if answer is not None and isinstance(answer.get("pid"), int) and _alive(answer["pid"]):
                return self._write(self._adopted(answer))
            if _port_in_use(self.host, self.port):
                raise DeployError(
                    f"the local {self.name} emulator cannot start: {self.host}:{self.port} is used by another program",
                    hint=f"stop that program, or pick another port for the {self.name} emulator in config/local.toml "
                    "([local] section) or with PMIS_LOCAL__<NAME>_PORT",
                )
            return self._start()

    def stop(self) -> bool:
        """Stop the recorded server (SIGTERM, then SIGKILL). False if none was running."""
        with self._locked():
            record = self.read_record()
            stopped = False
            if record is not None and _alive(record.pid) and self._is_ours(record):
                _terminate(record.pid)
                stopped = True
            for path in (self.record_path, self.pid_path):
                path.unlink(missing_ok=True)
            return stopped

    def status(self) -> dict[str, Any]:
        """Whether it runs, and its pid, url, uptime, log and (if the probe says) resource counts."""
        record = self.running()
        info: dict[str, Any] = {"name": self.name, "running": record is not None, "url": self.url, "log": None}
        if record is None:
            return info
        answer = self.probe() or {}
        info.update(
            pid=record.pid,
            uptime_seconds=round(record.uptime_seconds, 1),
            cold_start_seconds=record.cold_start_seconds,
            log=str(self.log_path),
            resources=answer.get("resources", {}),
        )
        return info

    # ---- internals -------------------------------------------------------------------------------------

    def _start(self) -> ServerRecord:
        self.announce(f"starting the local {self.name} emulator on {self.url} (log: {self.log_path})")
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the `inv` process that started it (and its Ctrl-C)
                close_fds=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        _children[proc.pid] = proc
        deadline = started + self.ready_timeout
        while self.probe() is None:
            if proc.poll() is not None:
                _children.pop(proc.pid, None)
                raise CommandError(
                    f"the local {self.name} emulator exited (code {proc.returncode}) before answering on {self.url}"
                    + self._log_tail(),
                    hint=f"read {self.log_path}",
                    argv=self.argv,
                    returncode=proc.returncode,
                )
            if time.monotonic() > deadline:
                _terminate(proc.pid)
                raise CommandError(
                    f"the local {self.name} emulator did not answer on {self.url} within {self.ready_timeout:.0f}s"
                    + self._log_tail(),
                    hint=f"read {self.log_path}",
                    argv=self.argv,
                )
            time.sleep(0.05)
        record = ServerRecord(
            pid=proc.pid,
            port=self.port,
            url=self.url,
            argv=self.argv,
            started_at=time.time(),
            cold_start_seconds=round(time.monotonic() - started, 3),
            version=self.version,
        )
        self.announce(f"local {self.name} emulator ready in {record.cold_start_seconds:.1f}s (pid {record.pid})")
        return self._write(record)

    def _answers_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.running() is not None:
                return True
            time.sleep(0.2)
        return False

    def _adopted(self, answer: dict[str, Any]) -> ServerRecord:
        started_at = answer.get("started_at")
        return ServerRecord(
            pid=int(answer["pid"]),
            port=self.port,
            url=self.url,
            argv=self.argv,
            started_at=float(started_at) if isinstance(started_at, int | float) else time.time(),
        )

    def _write(self, record: ServerRecord) -> ServerRecord:
        self.record_path.write_text(json.dumps(asdict(record), indent=2) + "\n")
        self.pid_path.write_text(f"{record.pid}\n")
        return record

    def _is_ours(self, record: ServerRecord) -> bool:
        """Guard against pid reuse: the process must still be running our command line."""
        try:
            cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return True  # no /proc (macOS): trust the record
        wanted = [a.encode() for a in record.argv[1:]]
        return all(part in cmdline for part in wanted)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return ("\n" + "\n".join("  | " + line for line in tail)) if tail else ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def code_version(*paths: Path, extra: str = "") -> str:
    """A fingerprint of the Python sources under `paths` (files or directories) and `extra` (a library
    version): a detached server started from other code is restarted rather than trusted."""
    import hashlib

    digest = hashlib.sha256(extra.encode())
    for path in paths:
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _alive(pid: int) -> bool:
    """True if `pid` runs (a zombie child of ours is reaped and counts as gone)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _terminate(pid: int) -> None:
    """SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                _children.pop(pid, None)
                return
            time.sleep(0.05)


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
