"""Create or update the app's own database role with the admin login, before the migration runs as it.

    python -m app.dbbootstrap                          # bootstrap only
    python -m app.dbbootstrap alembic upgrade head     # bootstrap, then exec the command (the migrate task)

DATABASE_URL names the app's role and its password; DATABASE_ADMIN_USERNAME / DATABASE_ADMIN_PASSWORD
(the RDS master: given to the migration task only, read from the RDS-managed secret when the task starts,
so always current) log in to the same host and database. Without the admin login nothing is done (docker
compose, the local flow: DATABASE_URL is then used as it is). With it, in one transaction:

- CREATE ROLE <app> LOGIN PASSWORD …, or ALTER ROLE … LOGIN PASSWORD … when it exists. The password is
  sent as a SCRAM verifier computed here (libpq's PQencryptPasswordConn, like psql's \\password), as a
  quoted literal: the plain password never reaches the server, its logs or ours;
- GRANT <app> TO <admin> (an RDS master is no superuser: it must be a member to hand objects over);
- ALTER DATABASE … OWNER TO <app> (in PostgreSQL 15 the public schema belongs to pg_database_owner, so
  the owner may create tables in it), and GRANT USAGE, CREATE ON SCHEMA public when it still lacks them;
- ALTER … OWNER TO <app> for every table, view, sequence and type in schema public that the admin owns
  (a database migrated by the master before this existed, alembic_version included).

A second run changes nothing but the password's salt. Each step prints one line; never a password.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.urls import normalise_database_url

ADMIN_USERNAME = "DATABASE_ADMIN_USERNAME"
ADMIN_PASSWORD = "DATABASE_ADMIN_PASSWORD"  # noqa: S105  # pragma: allowlist secret
CONNECT_TIMEOUT_SECONDS = 10
# relkind / typtype → the ALTER statement that changes its owner.
RELATION_KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "f": "FOREIGN TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
}
TYPE_KINDS = {"e": "TYPE", "r": "TYPE", "m": "TYPE", "d": "DOMAIN"}  # enum, range, multirange, domain


class BootstrapError(RuntimeError):
    """The bootstrap cannot run as configured (the message says what to set)."""


@dataclass(frozen=True)
class Target:
    """Where to connect and who the app is, from DATABASE_URL and the admin login."""

    host: str | None
    port: int | None
    database: str
    app_user: str
    app_password: str
    admin_user: str
    admin_password: str


def target_from_env(environ: Mapping[str, str]) -> Target | None:
    """The bootstrap's target; None when no admin login is set (nothing to do)."""
    admin_user = environ.get("DATABASE_ADMIN_USERNAME", "")  # literal names: `inv checks.env-docs` reads them
    admin_password = environ.get("DATABASE_ADMIN_PASSWORD", "")
    if not admin_user and not admin_password:
        return None
    if not admin_user or not admin_password:
        raise BootstrapError(f"set both {ADMIN_USERNAME} and {ADMIN_PASSWORD}, or neither")
    raw = environ.get("DATABASE_URL", "")
    if not raw:
        raise BootstrapError("DATABASE_URL is not set: it names the app's role, its password and the database")
    url = make_url(normalise_database_url(raw))
    if not url.username or not url.password or not url.database:
        raise BootstrapError("DATABASE_URL must name a user, a password and a database")
    return Target(
        url.host,
        url.port,
        url.database,
        url.username,
        str(url.password),
        admin_user,
        admin_password,
    )


def bootstrap(target: Target) -> list[str]:
    """Converge the role, the database owner and the ownership of schema public; what was done."""
    if target.app_user == target.admin_user:
        return [f"DATABASE_URL names the admin {target.admin_user} itself: nothing to bootstrap"]
    with psycopg.connect(
        host=target.host,
        port=target.port,
        dbname=target.database,
        user=target.admin_user,
        password=target.admin_password,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name="pmis-dbbootstrap",
    ) as conn:  # one transaction, committed on success
        done = [_converge_role(conn, target)]
        done += _converge_membership(conn, target)
        done += _converge_database(conn, target)
        done += _converge_objects(conn, target)
    return done


def _converge_role(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> str:
    app = sql.Identifier(target.app_user)
    verifier = conn.pgconn.encrypt_password(target.app_password.encode(), target.app_user.encode()).decode()
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (target.app_user,)).fetchone()
    # ALTER may not name SUPERUSER/NOSUPERUSER (superuser only); a new role gets no privileges by default.
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(app, sql.Literal(verifier)))
    return f"role {target.app_user}: " + ("password and LOGIN set" if exists else "created")


def _converge_membership(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> list[str]:
    member = conn.execute(
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
        " WHERE r.rolname = %s AND u.rolname = %s",
        (target.app_user, target.admin_user),
    ).fetchone()
    if member:
        return []
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(target.app_user), sql.Identifier(target.admin_user)))
    return [f"role {target.admin_user}: member of {target.app_user} (to hand objects over)"]


def _converge_database(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> list[str]:
    done = []
    row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").fetchone()
    if row is None or row[0] != target.app_user:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(target.database), sql.Identifier(target.app_user)
            )
        )
        done.append(f"database {target.database}: owner {row[0] if row else '?'} → {target.app_user}")
    can_create = conn.execute(
        "SELECT has_schema_privilege(%s, 'public', 'USAGE') AND has_schema_privilege(%s, 'public', 'CREATE')",
        (target.app_user, target.app_user),
    ).fetchone()
    if not (can_create and can_create[0]):
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(target.app_user)))
        done.append(f"schema public: USAGE, CREATE granted to {target.app_user}")
    return done


def _converge_objects(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> list[str]:
    """Hand the admin's tables, views, sequences and types in schema public to the app user."""
    done = []
    # Tables and views first: their owned (serial/identity) sequences follow them; then the rest.
    passes = (
        (_RELATIONS, ["r", "p", "f", "v", "m"], RELATION_KINDS),
        (_RELATIONS, ["S"], RELATION_KINDS),
        (_TYPES, list(TYPE_KINDS), TYPE_KINDS),
    )
    for query, kinds, statements in passes:
        for name, kind in conn.execute(query, (target.admin_user, kinds)).fetchall():
            statement = statements[str(kind)]
            conn.execute(
                sql.SQL("ALTER " + statement + " {}.{} OWNER TO {}").format(
                    sql.Identifier("public"), sql.Identifier(str(name)), sql.Identifier(target.app_user)
                )
            )
            done.append(f"{statement.lower()} public.{name}: owner {target.admin_user} → {target.app_user}")
    return done


_RELATIONS = (
    "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
    " WHERE c.relnamespace = 'public'::regnamespace AND r.rolname = %s AND c.relkind::text = ANY(%s)"
    " ORDER BY c.relname"
)
_TYPES = (  # free-standing types only: a table's row type and array types follow their owner
    "SELECT t.typname, t.typtype::text FROM pg_type t JOIN pg_roles r ON r.oid = t.typowner"
    " WHERE t.typnamespace = 'public'::regnamespace AND r.rolname = %s AND t.typtype::text = ANY(%s)"
    " ORDER BY t.typname"
)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Bootstrap, then exec `argv` (if any) without the admin login in its environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if environ is None else environ)
    try:
        target = target_from_env(env)
        done = bootstrap(target) if target else ["no admin login (DATABASE_ADMIN_USERNAME): nothing to do"]
    except (BootstrapError, ValueError, ArgumentError) as exc:  # a URL's parse errors never quote it
        print(f"dbbootstrap: {exc}", file=sys.stderr, flush=True)
        return 2
    except psycopg.Error as exc:  # the server's message: never a statement with a password in it
        print(f"dbbootstrap: {type(exc).__name__}: {exc}".rstrip(), file=sys.stderr, flush=True)
        return 1
    for line in done or ["nothing to change"]:
        print(f"dbbootstrap: {line}", flush=True)
    if not args:
        return 0
    for name in (ADMIN_USERNAME, ADMIN_PASSWORD):
        env.pop(name, None)
    sys.stdout.flush()
    os.execvpe(args[0], args, env)  # noqa: S606 - the container's own command, not user input


if __name__ == "__main__":
    sys.exit(main())
