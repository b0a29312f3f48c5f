"""Migrations: one Alembic head, every migration file imports cleanly, and the migrations build exactly
what the models declare (no model change without a migration).

The first two need no database. The third upgrades a scratch database (created on the server of
settings.checks.migrations_database_url, or in `local` on the local PostgreSQL, which is started if
needed as the local deploy does; dropped afterwards) to head and runs Alembic's autogenerate comparison
against app.models (pmis_deploy.db.model_diff). It never touches the environment's own database.
Without a reachable server it is UNAVAILABLE, never a pass.
"""

from __future__ import annotations

import importlib.util
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pmis_deploy.checks.outcome import CheckContext, Finding, Outcome, SubCheck, Verdict, verdict
from pmis_deploy.errors import DeployError

VERSIONS = Path("apps/api/alembic/versions")


def check(ctx: CheckContext) -> Verdict:
    versions = ctx.root / VERSIONS
    if not versions.is_dir():
        return Verdict(Outcome.FAIL, f"{VERSIONS} not found: no migrations", [Finding(str(VERSIONS), "missing")])
    heads = one_head(ctx)
    imports = imports_cleanly(ctx.root, versions)
    if heads.outcome is Outcome.PASS and imports.outcome is Outcome.PASS:
        diff = models_match(ctx)
    else:
        diff = SubCheck("models = migrations", Outcome.UNAVAILABLE, "not run: fix the heads/imports first")
    return verdict([heads, imports, diff])


def one_head(ctx: CheckContext) -> SubCheck:
    from pmis_deploy import db

    try:
        heads = sorted(db.script_directory(ctx.root).get_heads())
    except Exception as exc:  # alembic raises several kinds for broken revision graphs
        return SubCheck("one head", Outcome.FAIL, f"the revision graph does not load: {type(exc).__name__}: {exc}")
    if len(heads) == 1:
        return SubCheck("one head", Outcome.PASS, heads[0])
    if not heads:
        return SubCheck("one head", Outcome.FAIL, "no revisions")
    return SubCheck(
        "one head",
        Outcome.FAIL,
        f"{len(heads)} heads ({', '.join(heads)}): merge them (alembic merge heads)",
        [Finding(str(VERSIONS), f"several heads: {', '.join(heads)}")],
    )


def imports_cleanly(root: Path, versions: Path) -> SubCheck:
    """Import each migration file on its own; a failure names the file and line."""
    files = sorted(versions.glob("*.py"))
    findings: list[Finding] = []
    for path in files:
        rel = str(path.relative_to(root))
        spec = importlib.util.spec_from_file_location(f"_pmis_migration_check_{path.stem}", path)
        if spec is None or spec.loader is None:
            findings.append(Finding(rel, "cannot be loaded as a module"))
            continue
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            line = next(
                (f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == str(path)), None
            )
            findings.append(Finding(f"{rel}:{line}" if line else rel, f"{type(exc).__name__}: {exc}"))
            continue
        absent = [name for name in ("revision", "down_revision", "upgrade", "downgrade") if not hasattr(module, name)]
        if absent:
            findings.append(Finding(rel, f"not an Alembic migration: no {', '.join(absent)}"))
    outcome = Outcome.FAIL if findings else Outcome.PASS
    return SubCheck("migrations import cleanly", outcome, f"{len(files)} file(s)", findings)


def scratch_server(ctx: CheckContext) -> str | None:
    """checks.migrations_database_url; in `local`, the local PostgreSQL (started if needed, as deploy does)."""
    configured = ctx.settings.checks.migrations_database_url
    if configured is not None:
        return configured.get_secret_value()
    if ctx.settings.environment.value == "local":
        from pmis_deploy.emulators.local import ensure_database

        try:
            return ensure_database(ctx.settings)
        except DeployError as exc:
            raise ScratchUnavailable(f"the local PostgreSQL could not be started: {exc.render()}") from None
    return None


def models_match(ctx: CheckContext) -> SubCheck:
    """Upgrade a scratch database to head and compare it with app.models."""
    from pmis_deploy import db

    name = "models = migrations"
    try:
        server = scratch_server(ctx)
    except ScratchUnavailable as exc:
        return SubCheck(name, Outcome.UNAVAILABLE, str(exc))
    if server is None:
        return SubCheck(
            name,
            Outcome.UNAVAILABLE,
            "no database server to build the migrations on: set checks.migrations_database_url "
            "(PMIS_CHECKS__MIGRATIONS_DATABASE_URL) to a PostgreSQL server where a scratch database may be created",
        )
    try:
        with scratch_database(db.normalise_url(server)) as url:
            db.upgrade(url, root=ctx.root)
            diffs = db.model_diff(url, root=ctx.root)
    except ScratchUnavailable as exc:
        return SubCheck(name, Outcome.UNAVAILABLE, str(exc))
    except Exception as exc:
        return SubCheck(name, Outcome.FAIL, f"upgrading a fresh database to head failed: {type(exc).__name__}: {exc}")
    if diffs:
        findings = [Finding("apps/api/app/models.py", d) for d in diffs]
        return SubCheck(
            name,
            Outcome.FAIL,
            f"{len(diffs)} model change(s) without a migration: alembic revision --autogenerate, then review it",
            findings,
        )
    return SubCheck(name, Outcome.PASS, "a scratch database at head matches app.models")


class ScratchUnavailable(Exception):
    """No scratch database could be made (server unreachable, no permission)."""


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """CREATE DATABASE pmis_check_<hex> on the server of `url`, yield its URL, DROP it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from pmis_deploy.redaction import redact

    server = make_url(url)
    name = f"pmis_check_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        server.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ScratchUnavailable(
                f"cannot create a scratch database on {server.render_as_string(hide_password=True)}: "
                f"{redact(reason)} (start it: inv local.up, or set checks.migrations_database_url)"
            ) from None
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
