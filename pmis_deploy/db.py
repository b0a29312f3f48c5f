"""Database migrations of the api (apps/api/alembic), driven through Alembic's Python API.

Every function returns data (the task layer renders it) and takes the database URL explicitly;
`resolve_database_url` finds it per environment (`local`: settings.local.database_url; any other
environment: the DATABASE_URL environment variable). URLs are only ever shown redacted.

    url = resolve_database_url(settings)
    outcome = upgrade(url)                 # MigrationOutcome(before=(), after=("0002",), applied=("0001", "0002"))
    report = check(url)                    # CheckReport(...).ok is False when behind, forked or drifted
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import ConfigError, DeployError
from pmis_deploy.redaction import redact, register_secret

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

    from pmis_deploy.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL_VAR = "DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnreachable(DeployError):
    """The database did not answer."""


@dataclass(frozen=True)
class RevisionInfo:
    """One migration script."""

    revision: str
    down_revisions: tuple[str, ...]
    message: str
    is_head: bool


@dataclass(frozen=True)
class DbState:
    """Where the database is compared with the scripts' heads."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = ()  # revisions an upgrade to head would apply, oldest first

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)


@dataclass(frozen=True)
class MigrationOutcome:
    """What an upgrade or downgrade did (or, planned, would do)."""

    direction: str  # "upgrade" | "downgrade"
    target: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[str, ...]  # in the order they ran
    planned: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.applied)


@dataclass(frozen=True)
class CheckReport:
    """db.check: one head, the database at it, models equal to the migrations."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    diffs: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- where the URL comes from ------------------------------------------------------------------------


def resolve_database_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The environment's database URL (psycopg 3 scheme), its password registered for redaction."""
    env = os.environ if environ is None else environ
    name = settings.environment.value
    if name == "local":  # started on demand (when it is the local PostgreSQL `inv local.up` runs)
        from pmis_deploy.emulators.local import ensure_database

        url = ensure_database(settings)
    else:
        url = env.get(DATABASE_URL_VAR, "")
        if not url:
            raise ConfigError(
                f"{DATABASE_URL_VAR} is not set: db tasks for {name} read the database URL from it",
                hint=(
                    f"export {DATABASE_URL_VAR} (the postgresql:// URL of the pmis database; AWS: Secrets Manager "
                    f"{settings.project}-{name}/database-url; GCP: Secret Manager {settings.name('database-url')}); "
                    "production databases are private: run migrations as the release's one-off task instead"
                ),
            )
    return normalise_url(url)


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// → postgresql+psycopg://; the password is registered as a secret."""
    from sqlalchemy.engine import make_url

    _api_importable()
    from app.urls import normalise_database_url

    try:
        normalised = normalise_database_url(url)
        password = make_url(normalised).password
    except Exception as exc:  # ValueError, sqlalchemy.exc.ArgumentError
        raise ConfigError(f"{DATABASE_URL_VAR} is not a valid PostgreSQL URL: {redact(str(exc))}") from None
    if password:
        register_secret(str(password))
    return normalised


def display_url(url: str) -> str:
    """user@host:port/database: which database, without the password or the scheme (safe to print).

    Not the whole URL: the settings register a whole secret URL for redaction, which would mask it all.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    user = f"{parsed.username}@" if parsed.username else ""
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{user}{host}{port}/{parsed.database or ''}"


# --- Alembic plumbing --------------------------------------------------------------------------------


def api_dir(root: Path | None = None) -> Path:
    return (root or REPO_ROOT) / "apps" / "api"


def alembic_config(database_url: str | None = None, *, root: Path | None = None) -> Config:
    """A Config built in code (no ini file, so no logging set-up) pointing at apps/api/alembic.

    env.py imports `app.models`: callers put apps/api on sys.path first (script_directory does).
    """
    from alembic.config import Config

    api = api_dir(root)
    config = Config()
    config.set_main_option("script_location", str(api / "alembic"))
    if database_url:
        config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def script_directory(root: Path | None = None) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    _api_importable(root)  # instead of prepend_sys_path, which grows sys.path on every call
    return ScriptDirectory.from_config(alembic_config(root=root))


def _api_importable(root: Path | None = None) -> None:
    """Put apps/api on sys.path so env.py's `app.models` (and our metadata import) resolve."""
    path = str(api_dir(root))
    if path not in sys.path:
        sys.path.insert(0, path)


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(
            f"cannot connect to {display_url(url)}: {redact(reason)}",
            hint="is the database running and reachable? for the local environment: inv local.up",
        ) from None
    finally:
        engine.dispose()


def current_heads(url: str) -> tuple[str, ...]:
    """The revisions recorded in the database's alembic_version table (empty: nothing applied)."""
    from alembic.runtime.migration import MigrationContext

    with _connect(url) as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def _lineage(script: ScriptDirectory, revisions: tuple[str, ...] | str) -> list[str]:
    """`revisions` and all their ancestors, newest first."""
    if not revisions:
        return []
    return [s.revision for s in script.iterate_revisions(revisions, "base")]


def _resolve(script: ScriptDirectory, target: str) -> tuple[str, ...]:
    """A symbolic or partial revision (head, heads, base, 0002, ab12) as full revision ids."""
    from alembic.util import CommandError as AlembicCommandError

    if target == "base":
        return ()
    try:
        return tuple(r.revision for r in script.get_revisions(target) if r is not None)
    except AlembicCommandError as exc:
        raise ConfigError(f"unknown revision {target!r}: {exc}", hint="see `inv db.history`") from None


def _difference(script: ScriptDirectory, newer: tuple[str, ...], older: tuple[str, ...]) -> list[str]:
    """Revisions in `newer`'s lineage but not `older`'s, newest first."""
    old = set(_lineage(script, older))
    return [r for r in _lineage(script, newer) if r not in old]


# --- the operations ----------------------------------------------------------------------------------


def history(root: Path | None = None) -> list[RevisionInfo]:
    """Every migration, newest first (no database needed)."""
    script = script_directory(root)
    heads = set(script.get_heads())
    from alembic.util import to_tuple

    return [
        RevisionInfo(s.revision, to_tuple(s.down_revision, default=()), (s.doc or "").strip(), s.revision in heads)
        for s in script.walk_revisions()
    ]


def state(url: str, root: Path | None = None) -> DbState:
    """The database's revisions, the scripts' heads, and what an upgrade to head would apply."""
    script = script_directory(root)
    current = current_heads(url)
    heads = tuple(sorted(script.get_heads()))
    pending = tuple(reversed(_difference(script, heads, current)))
    return DbState(current, heads, pending)


def plan_upgrade(url: str, revision: str = "head", root: Path | None = None) -> MigrationOutcome:
    """What `upgrade(url, revision)` would apply, without applying it."""
    script = script_directory(root)
    before = current_heads(url)
    target = _resolve(script, revision)
    pending = tuple(reversed(_difference(script, target, before)))
    return MigrationOutcome("upgrade", revision, before, target if pending else before, pending, planned=True)


def upgrade(url: str, revision: str = "head", root: Path | None = None) -> MigrationOutcome:
    """Upgrade to `revision` (default head); a second run applies nothing."""
    return _migrate("upgrade", url, revision, root)


def require_target(to: str | None) -> str:
    """The downgrade target, refusing an empty one (there is no implicit "one step back")."""
    if not to or not to.strip():
        raise ConfigError(
            "db.downgrade needs an explicit target: --to REVISION (or --to base)",
            hint="see `inv db.history` for the revisions; a downgrade can drop data",
        )
    return to.strip()


def downgrade(url: str, to: str, root: Path | None = None) -> MigrationOutcome:
    """Downgrade to the explicit target `to` (a revision id, or `base` for an empty schema)."""
    return _migrate("downgrade", url, require_target(to), root)


def _migrate(direction: str, url: str, revision: str, root: Path | None) -> MigrationOutcome:
    from alembic import command
    from alembic.util import CommandError as AlembicCommandError
    from sqlalchemy.exc import SQLAlchemyError

    _api_importable(root)
    script = script_directory(root)
    before = current_heads(url)
    config = alembic_config(url, root=root)
    try:
        (command.upgrade if direction == "upgrade" else command.downgrade)(config, revision)
    except AlembicCommandError as exc:
        raise ConfigError(f"alembic {direction} {revision}: {redact(str(exc))}", hint="see `inv db.history`") from None
    except SQLAlchemyError as exc:
        reached = ", ".join(current_heads(url)) or "base"
        raise DeployError(
            f"alembic {direction} {revision} failed (the database is now at {reached}): {redact(str(exc))[:2000]}",
            hint="fix the migration and run again (PostgreSQL rolls the whole run back on failure)",
        ) from None
    after = current_heads(url)
    if direction == "upgrade":
        applied = tuple(reversed(_difference(script, after, before)))
    else:
        applied = tuple(_difference(script, before, after))
    return MigrationOutcome(direction, revision, before, after, applied)


def check(url: str, root: Path | None = None) -> CheckReport:
    """Fail when the scripts have several heads, the database is not at head, or models ≠ migrations."""
    script = script_directory(root)
    heads = tuple(sorted(script.get_heads()))
    current = current_heads(url)
    problems: list[str] = []
    diffs: tuple[str, ...] = ()
    if len(heads) > 1:
        problems.append(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): merge them with `alembic merge heads`"
        )
    if set(current) != set(heads):
        shown = ", ".join(current) or "nothing applied"
        problems.append(f"the database is at {shown}, the head is {', '.join(heads)}: run `inv db.migrate`")
    else:
        diffs = tuple(model_diff(url, root))
        if diffs:
            problems.append(
                f"the models differ from the migrations ({len(diffs)} difference(s)): "
                "write a migration (alembic revision --autogenerate) and review it"
            )
    return CheckReport(current, heads, diffs, tuple(problems))


def model_diff(url: str, root: Path | None = None) -> list[str]:
    """Alembic's autogenerate comparison of app.models with the database, one line per difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    _api_importable(root)
    from app.models import Base

    with _connect(url) as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        raw = compare_metadata(context, Base.metadata)
    return [_describe(d) for d in _flatten(raw)]


def _flatten(diffs: list[Any]) -> Iterator[tuple[Any, ...]]:
    for item in diffs:
        if isinstance(item, list):  # column modifications come grouped
            yield from item
        else:
            yield item


def _describe(diff: tuple[Any, ...]) -> str:
    """('add_column', None, 'tasks', Column('x')) → 'add_column tasks.x'."""
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind} {diff[1].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind} {diff[2]}.{diff[3].name}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = diff[1]
        table = getattr(getattr(obj, "table", None), "name", "?")
        return f"{kind} {table}.{obj.name}"
    if kind.startswith("modify_"):
        _, _schema, table, column, _existing, old, new = diff
        return f"{kind} {table}.{column}: {old!r} → {new!r}"
    return " ".join(str(part) for part in diff)
