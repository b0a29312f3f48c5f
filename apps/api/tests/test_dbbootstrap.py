"""python -m app.dbbootstrap alembic upgrade head — the AWS migration task's command — against a real
PostgreSQL 15 whose "admin" is like an RDS master (CREATEROLE + CREATEDB, owns the database, no
superuser) and which checks passwords (SCRAM) for everyone but postgres, with every statement logged."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from app import dbbootstrap
from app.migrations import API_ROOT, upgrade
from pmis_deploy.aws import taskdefs
from pmis_deploy.emulators.postgres import PostgresCluster, find_bindir
from pmis_deploy.errors import ToolMissingError

pytestmark = pytest.mark.integration

HBA = """\
local all postgres trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""
# Quotes, % and URL delimiters: the URL decoding and the SQL quoting must both hold.
AWKWARD = "'\"%:/@?#\\"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of its own: passwords checked (but for postgres), every statement logged."""
    try:
        bindir = find_bindir()
    except ToolMissingError as exc:
        pytest.skip(str(exc))
    base = Path(tempfile.mkdtemp(prefix="pmis-pg-scram-"))
    server = PostgresCluster(base, _free_port(), bindir=bindir)
    try:
        server.ensure_running()
        (server.data_dir / "pg_hba.conf").write_text(HBA)
        with psycopg.connect(_dsn(server), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _dsn(server: PostgresCluster, dbname: str = "postgres") -> str:
    return f"host=127.0.0.1 port={server.port} user=postgres dbname={dbname} connect_timeout=5"


@dataclass
class RdsLike:
    server: PostgresCluster
    database: str
    admin: str
    admin_password: str
    app: str
    workdir: Path

    def url(self, user: str, password: str) -> str:
        return (
            f"postgresql+psycopg://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{self.server.port}/{self.database}"
        )

    def env(self, password: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": self.url(self.app, password),
            "DATABASE_ADMIN_USERNAME": self.admin,
            "DATABASE_ADMIN_PASSWORD": self.admin_password,
        }

    def superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(_dsn(self.server, self.database), autocommit=True)

    def owners(self) -> dict[str, str]:
        """Relation (and free-standing type) → owner, in schema public."""
        with self.superuser() as conn:
            rows = conn.execute(
                "SELECT relname, pg_get_userbyid(relowner) FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
                " UNION ALL SELECT typname, pg_get_userbyid(typowner) FROM pg_type"
                " WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'"
            ).fetchall()
        return {str(name): str(owner) for name, owner in rows}

    def database_owner(self) -> str:
        with self.superuser() as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        return str(row[0])

    def can_log_in(self, user: str, password: str) -> bool:
        try:
            with psycopg.connect(self.url(user, password).replace("+psycopg", ""), connect_timeout=5) as conn:
                return conn.execute("SELECT current_user").fetchone() == (user,)
        except psycopg.OperationalError:
            return False


@pytest.fixture
def rds(cluster: PostgresCluster, image_dir: Path) -> Iterator[RdsLike]:
    """A database owned by a non-superuser admin with CREATEROLE + CREATEDB, like an RDS master."""
    suffix = uuid.uuid4().hex[:10]
    admin_password = secrets.token_hex(12) + AWKWARD
    target = RdsLike(cluster, f"db_{suffix}", f"admin_{suffix}", admin_password, f"app_{suffix}", image_dir)
    with psycopg.connect(_dsn(cluster), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
                sql.Identifier(target.admin), sql.Literal(target.admin_password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(target.database), sql.Identifier(target.admin))
        )
    yield target
    with psycopg.connect(_dsn(cluster), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
        for role in (target.app, target.admin):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def image_dir() -> Iterator[Path]:
    """What the api image holds in /app (its Dockerfile's COPY lines), and nothing else."""
    workdir = Path(tempfile.mkdtemp(prefix="pmis-api-image-"))
    shutil.copy2(API_ROOT / "alembic.ini", workdir)
    for tree in ("alembic", "app"):
        shutil.copytree(API_ROOT / tree, workdir / tree, ignore=shutil.ignore_patterns("__pycache__"))
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


def run_migrate_command(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The migrate task definition's command, as the image runs it (WORKDIR /app, tools on PATH)."""
    command = taskdefs.COMMAND_OF["migrate"]
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        command, cwd=workdir, env=env | {"PATH": path}, capture_output=True, text=True, timeout=120, check=False
    )


def assert_no_password(rds: RdsLike, result: subprocess.CompletedProcess[str], *passwords: str) -> None:
    log = rds.server.log_file.read_text(errors="replace")
    if "dbbootstrap: role" in result.stdout:  # the statement was logged, with a SCRAM verifier only
        assert f'ROLE "{rds.app}" WITH LOGIN PASSWORD \'SCRAM-SHA-256$' in log
    for password in (*passwords, rds.admin_password):
        for where, text in (("stdout", result.stdout), ("stderr", result.stderr), ("server log", log)):
            assert password not in text, f"a password is in the {where}"
            assert quote(password, safe="") not in text, f"a URL-encoded password is in the {where}"


def test_first_run_creates_the_role_and_its_tables(rds: RdsLike) -> None:
    password = secrets.token_hex(24)
    result = run_migrate_command(rds.workdir, rds.env(password))
    assert result.returncode == 0, result.stderr
    assert f"dbbootstrap: role {rds.app}: created" in result.stdout
    assert "Running upgrade  -> 0001" in result.stderr  # then alembic, as the app user
    assert rds.can_log_in(rds.app, password)
    assert not rds.can_log_in(rds.app, "wrong-" + password)  # SCRAM really checks it
    assert rds.database_owner() == rds.app
    owners = rds.owners()
    assert {"packages", "tasks", "alembic_version"} <= set(owners)
    assert set(owners.values()) == {rds.app}  # alembic ran as the app user
    with rds.superuser() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s", (rds.app,)
        ).fetchone()
    assert row == (False, False, False, True)  # least privilege
    assert_no_password(rds, result, password)


def test_second_run_changes_nothing_and_succeeds(rds: RdsLike) -> None:
    password = secrets.token_hex(24)
    assert run_migrate_command(rds.workdir, rds.env(password)).returncode == 0
    before = rds.owners()
    again = run_migrate_command(rds.workdir, rds.env(password))
    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stdout.splitlines() if line.startswith("dbbootstrap:")]
    assert lines == [f"dbbootstrap: role {rds.app}: password and LOGIN set"]  # no grant, no owner change
    assert "Running upgrade" not in again.stderr  # alembic: already at head
    assert rds.owners() == before
    assert rds.can_log_in(rds.app, password)
    assert_no_password(rds, again, password)


def test_a_new_password_in_database_url_is_set_on_the_role(rds: RdsLike) -> None:
    old, new = secrets.token_hex(24), secrets.token_hex(16) + AWKWARD
    assert run_migrate_command(rds.workdir, rds.env(old)).returncode == 0
    result = run_migrate_command(rds.workdir, rds.env(new))
    assert result.returncode == 0, result.stderr
    assert rds.can_log_in(rds.app, new)
    assert not rds.can_log_in(rds.app, old)
    assert_no_password(rds, result, old, new)


def test_a_database_migrated_by_the_admin_is_handed_over(rds: RdsLike) -> None:
    """The old way: alembic ran as the master, which owns every table; and a few more kinds of object."""
    upgrade(rds.url(rds.admin, rds.admin_password))
    with psycopg.connect(rds.url(rds.admin, rds.admin_password).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE TABLE legacy (id serial PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY)")
        conn.execute("CREATE SEQUENCE free_counter")
        conn.execute("CREATE VIEW open_tasks AS SELECT id FROM tasks")
        conn.execute("CREATE TYPE mood AS ENUM ('ok', 'late')")
    assert set(rds.owners().values()) == {rds.admin}
    password = secrets.token_hex(24)
    result = run_migrate_command(rds.workdir, rds.env(password))
    assert result.returncode == 0, result.stderr
    owners = rds.owners()
    assert {
        "packages",
        "tasks",
        "alembic_version",
        "legacy",
        "legacy_id_seq",
        "legacy_n_seq",
        "free_counter",
        "open_tasks",
        "mood",
    } <= set(owners)
    assert set(owners.values()) == {rds.app}, owners
    assert f"table public.alembic_version: owner {rds.admin} → {rds.app}" in result.stdout
    with psycopg.connect(rds.url(rds.app, password).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("INSERT INTO legacy DEFAULT VALUES")  # the app user owns the sequences too
        conn.execute("ALTER TABLE packages ADD COLUMN note text")  # and may migrate its tables
    assert_no_password(rds, result, password)


def test_without_the_admin_login_nothing_is_done(rds: RdsLike, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": rds.url(rds.app, secrets.token_hex(8))}
    assert dbbootstrap.main([], env) == 0
    assert "nothing to do" in capsys.readouterr().out
    with rds.superuser() as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (rds.app,)).fetchone() is None


def test_half_an_admin_login_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://app:pw@127.0.0.1/db"  # pragma: allowlist secret
    env = {"DATABASE_URL": url, "DATABASE_ADMIN_USERNAME": "admin"}
    assert dbbootstrap.main([], env) == 2
    assert "DATABASE_ADMIN_PASSWORD" in capsys.readouterr().err


def test_a_wrong_admin_password_fails_without_showing_it(rds: RdsLike) -> None:
    password = secrets.token_hex(24)
    env = rds.env(password) | {"DATABASE_ADMIN_PASSWORD": "not-" + rds.admin_password}
    result = run_migrate_command(rds.workdir, env)
    assert result.returncode == 1
    assert "password authentication failed" in result.stderr
    assert "Running upgrade" not in result.stderr  # alembic did not run
    assert "not-" + rds.admin_password not in result.stderr + result.stdout
    assert_no_password(rds, result, password)


def test_the_command_it_execs_gets_no_admin_login(rds: RdsLike) -> None:
    probe = "import os; print(sorted(k for k in os.environ if k.startswith('DATABASE')))"
    command = [sys.executable, "-m", "app.dbbootstrap", sys.executable, "-c", probe]
    result = subprocess.run(
        command, cwd=rds.workdir, env=rds.env(secrets.token_hex(24)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "['DATABASE_URL']"


BAD_URLS = [
    "not a url at all s3cret",
    "postgresql://app:s3cret@h:port/db",  # pragma: allowlist secret
    "postgresql://h/db",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_database_url_is_refused_without_quoting_it(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": url, "DATABASE_ADMIN_USERNAME": "admin", "DATABASE_ADMIN_PASSWORD": "x"}
    assert dbbootstrap.main([], env) == 2
    captured = capsys.readouterr()
    assert "dbbootstrap:" in captured.err and "s3cret" not in captured.out + captured.err
