"""The `local` environment's stand-ins, together: embedded AWS, local PostgreSQL, embedded GCP.

    inv local.up       start what is not running (each piece is reused if it already runs)
    inv local.status   what runs, where, since when
    inv local.down     stop them (their state, except PostgreSQL's data directory, is lost)

Every piece keeps its files under `local.state_dir` (default `.pmis-local/`): `aws/`, `postgres/`,
`gcp/`. The embedded GCP is optional: when `pmis_deploy.emulators.gcp` is not importable it is shown
as "not available" and the rest still works.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pmis_deploy.emulators.daemon import state_root

if TYPE_CHECKING:
    from pmis_deploy.config import Settings
    from pmis_deploy.emulators.postgres import PostgresCluster


@dataclass
class PieceStatus:
    """One row of `inv local.status`."""

    name: str
    running: bool
    endpoint: str
    pid: int | None = None
    uptime_seconds: float | None = None
    detail: str = ""
    available: bool = True
    changed: bool = False  # started by `up` / stopped by `down` in this call
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Piece:
    """How to start, stop and inspect one stand-in."""

    name: str
    up: Callable[[], bool]  # True if it had to be started
    down: Callable[[], bool]  # True if it was running
    status: Callable[[], PieceStatus]


def database_name(settings: Settings) -> str:
    """The database the `local` environment uses (the path of local.database_url, default pmis)."""
    path = urlsplit(settings.local.database_url.get_secret_value()).path.strip("/")
    return path or "pmis"


def postgres_cluster(settings: Settings) -> PostgresCluster:
    from pmis_deploy.emulators.postgres import PostgresCluster

    return PostgresCluster(state_root(settings) / "postgres", settings.local.postgres_port)


def ensure_database(settings: Settings) -> str:
    """Start the local PostgreSQL if needed and create the `local` database; returns local.database_url.

    For code paths of the `local` environment that need the database (deploy's gate and migration,
    `inv db.*`) so that they work on a fresh clone without `inv local.up`.
    """
    url = settings.local.database_url.get_secret_value()
    if not manages(settings):  # the user points local.database_url at a server of their own
        return url
    cluster = postgres_cluster(settings)
    cluster.ensure_running()
    cluster.create_database(database_name(settings))
    return url


def manages(settings: Settings) -> bool:
    """Whether local.database_url names the PostgreSQL that `local` runs (loopback, local.postgres_port)."""
    parts = urlsplit(settings.local.database_url.get_secret_value())
    return parts.hostname in ("127.0.0.1", "localhost") and parts.port == settings.local.postgres_port


def gcp_module() -> ModuleType | None:
    """The embedded GCP module if it is installed and complete, else None."""
    try:
        module = importlib.import_module("pmis_deploy.emulators.gcp")
    except ImportError:
        return None
    if not all(hasattr(module, name) for name in ("ensure_running", "stop", "status")):
        return None
    return module


# ---- the pieces --------------------------------------------------------------------------------------------


def _aws_piece(settings: Settings) -> Piece:
    from pmis_deploy.emulators import aws

    def up() -> bool:
        was_running = aws.server(settings).running() is not None
        aws.ensure_running(settings)
        return not was_running

    return Piece("aws", up, lambda: aws.stop(settings), lambda: _from_daemon("aws", aws.status(settings)))


def _gcp_piece(settings: Settings) -> Piece:
    module = gcp_module()
    if module is None:
        unavailable = PieceStatus(
            "gcp", False, "", available=False, detail="not available (pmis_deploy.emulators.gcp not installed)"
        )
        return Piece("gcp", lambda: False, lambda: False, lambda: unavailable)
    gcp: Any = module

    def up() -> bool:
        was_running = bool(gcp.status(settings).get("running"))
        gcp.ensure_running(settings)
        return not was_running

    return Piece("gcp", up, lambda: bool(gcp.stop(settings)), lambda: _from_daemon("gcp", gcp.status(settings)))


def _postgres_piece(settings: Settings) -> Piece:
    cluster = postgres_cluster(settings)
    dbname = database_name(settings)

    def up() -> bool:
        started = cluster.ensure_running()
        cluster.create_database(dbname)
        return started

    def status() -> PieceStatus:
        running = cluster.is_running()
        return PieceStatus(
            "postgres",
            running,
            f"127.0.0.1:{cluster.port}/{dbname}",
            pid=_postmaster_pid(cluster.data_dir) if running else None,
            uptime_seconds=_uptime(cluster.data_dir / "postmaster.pid") if running else None,
            detail=f"database {dbname}",
            extra={"data": str(cluster.data_dir), "log": str(cluster.log_file)},
        )

    return Piece("postgres", up, cluster.stop, status)


def _from_daemon(name: str, info: dict[str, Any]) -> PieceStatus:
    resources = info.get("resources") or {}
    shown = ", ".join(f"{k}={v}" for k, v in resources.items() if v) if isinstance(resources, dict) else ""
    log = info.get("log")
    return PieceStatus(
        name,
        bool(info.get("running")),
        str(info.get("url", "")),
        pid=info.get("pid"),
        uptime_seconds=info.get("uptime_seconds"),
        detail=shown,
        extra={"log": log, **{k: v for k, v in info.items() if k in ("cold_start_seconds", "resources")}},
    )


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _uptime(path: Path) -> float | None:
    try:
        return round(max(0.0, time.time() - path.stat().st_mtime), 1)
    except OSError:
        return None


def pieces(settings: Settings) -> list[Piece]:
    """The stand-ins of the `local` environment, in start order."""
    return [_aws_piece(settings), _postgres_piece(settings), _gcp_piece(settings)]


# ---- what the tasks call -----------------------------------------------------------------------------------


def up(settings: Settings, only: list[str] | None = None) -> list[PieceStatus]:
    """Start every piece that is not running (or only those named), all at once; returns their status."""
    from concurrent.futures import ThreadPoolExecutor

    selected = _selected(settings, only)
    with ThreadPoolExecutor(max_workers=len(selected) or 1) as pool:
        futures = [pool.submit(piece.up) for piece in selected]
    rows = []
    for piece, future in zip(selected, futures, strict=True):
        changed = future.result()  # re-raises the piece's error (after every piece has finished)
        row = piece.status()
        row.changed = changed
        rows.append(row)
    return rows


def down(settings: Settings, only: list[str] | None = None) -> list[PieceStatus]:
    """Stop every running piece (or only those named), in reverse start order."""
    rows = []
    for piece in reversed(_selected(settings, only)):
        changed = piece.down()
        row = piece.status()
        row.changed = changed
        rows.append(row)
    return rows


def status(settings: Settings) -> list[PieceStatus]:
    return [piece.status() for piece in pieces(settings)]


def _selected(settings: Settings, only: list[str] | None) -> list[Piece]:
    available = pieces(settings)
    if not only:
        return available
    from pmis_deploy.errors import ConfigError

    names = [p.name for p in available]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(f"unknown local piece(s): {', '.join(unknown)}", hint=f"use one of: {', '.join(names)}")
    return [p for p in available if p.name in only]


def render(rows: list[PieceStatus], *, as_json: bool = False, title: str = "local environment") -> None:
    """Print the rows as a table (or JSON on stdout)."""
    from pmis_deploy import console

    if as_json:
        import json

        console.result(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    table_rows = [
        [
            r.name,
            ("running" if r.running else "stopped") if r.available else "n/a",
            r.endpoint,
            r.pid or "",
            _duration(r.uptime_seconds),
            r.detail,
        ]
        for r in rows
    ]
    console.table(title, ["piece", "state", "endpoint", "pid", "up for", "resources"], table_rows)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
