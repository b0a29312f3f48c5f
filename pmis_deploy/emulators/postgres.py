"""A throwaway PostgreSQL 15 cluster in a directory: initdb, start, stop, status, create database.

Used by the test fixtures (one cluster per test session) and by the `local` environment
(`inv local.up`). It listens on 127.0.0.1 only, with its socket in the cluster directory, and trades
durability for speed (fsync off). When we run as root, initdb and pg_ctl run as the `postgres` user
(initdb refuses to run as root) and the directory is handed to that user.

    cluster = PostgresCluster(Path(".pmis-local/postgres"), 55432)
    cluster.ensure_running()
    cluster.create_database("pmis")
    cluster.url("pmis")   # postgresql+psycopg://postgres@127.0.0.1:55432/pmis
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pmis_deploy.errors import CommandError, ConfigError, ToolMissingError
from pmis_deploy.shell import Result, Runner

DEFAULT_BINDIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
START_TIMEOUT = 30


def find_bindir() -> Path:
    """The directory of initdb/pg_ctl: PostgreSQL 15's, else whatever `pg_config --bindir` names."""
    if (DEFAULT_BINDIR / "pg_ctl").is_file():
        return DEFAULT_BINDIR
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = Runner(echo=False).run([pg_config, "--bindir"], mutating=False, check=False)
        candidate = Path(result.stdout.strip())
        if result.ok and (candidate / "pg_ctl").is_file():
            return candidate
    raise ToolMissingError(
        f"PostgreSQL server binaries not found (looked in {DEFAULT_BINDIR} and `pg_config --bindir`)",
        hint="install PostgreSQL 15: apt-get install postgresql-15 (scripts/bootstrap does)",
    )


class PostgresCluster:
    """One cluster: `<base_dir>/data`, socket and server.log in `<base_dir>`, listening on `port`."""

    def __init__(self, base_dir: Path, port: int, *, runner: Runner | None = None, bindir: Path | None = None) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        self.runner = runner or Runner(echo=False)
        self._bindir = bindir

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL of a database in this cluster (trust auth: no password)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def is_running(self) -> bool:
        """True when pg_ctl reports a server running on this data directory."""
        if not (self.data_dir / "PG_VERSION").is_file():
            return False
        result = self._pg(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    def ensure_running(self) -> bool:
        """Create the cluster if needed and start it; True when it had to be started."""
        if self.is_running():
            return False
        self._ensure_initialised()
        options = f"-p {self.port} -k {self.base_dir} {SERVER_OPTIONS}"
        argv = ["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", str(START_TIMEOUT)]
        result = self._pg(
            [*argv, "-o", options, "start"],
            check=False,
        )
        if not result.ok:
            raise CommandError(
                f"PostgreSQL did not start on 127.0.0.1:{self.port} (data in {self.data_dir})\n" + self._log_tail(),
                hint=f"is port {self.port} already in use? see {self.log_file}",
                argv=list(result.argv),
                returncode=result.returncode,
            )
        return True

    def stop(self) -> bool:
        """Stop the server (fast shutdown); True when it was running."""
        if not self.is_running():
            return False
        self._pg(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        return True

    def create_database(self, name: str) -> bool:
        """Create database `name` unless it exists; True when it was created."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, disconnecting its sessions."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres connect_timeout=5"

    def _ensure_initialised(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _is_root():  # initdb refuses root; the postgres user must own the directory
            _check_reachable_by_postgres(self.base_dir.parent)
            shutil.chown(self.base_dir, SUPERUSER, SUPERUSER)
        self._pg(["initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"])

    def _pg(self, argv: list[str], *, check: bool = True) -> Result:
        """Run a PostgreSQL binary from bindir, as the postgres user when we are root."""
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if _is_root():
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return self.runner.run(command, mutating=False, check=check, cwd=self.base_dir, timeout=60)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.strip().splitlines()[-lines:])


def _check_reachable_by_postgres(directory: Path) -> None:
    """Raise when the postgres user cannot traverse `directory` or one of its parents."""
    import pwd
    import stat

    uid = pwd.getpwnam(SUPERUSER).pw_uid
    for path in (directory, *directory.parents):
        info = path.stat()
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            raise ConfigError(
                f"the postgres user cannot enter {path} (mode {stat.filemode(info.st_mode)}), "
                f"so it cannot own a cluster in {directory}",
                hint=f"chmod o+x {path}, or put the cluster in a directory others can traverse (e.g. /tmp)",
            )


def _is_root() -> bool:
    return os.geteuid() == 0
