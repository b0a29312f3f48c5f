"""Environments: config/base.toml merged with config/<env>.toml, then .env and PMIS_* variables.

The merged mapping is validated by pydantic models (unknown keys rejected, enums checked, secrets typed
as SecretStr). Every key remembers where its value came from, so errors and `config.show` can say so.

Environment variables use `__` for nesting: PMIS_AWS__DATABASE__INSTANCE_CLASS=db.t4g.small.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError

from pmis_deploy.aws.settings import AwsSettings
from pmis_deploy.checks.settings import ChecksSettings
from pmis_deploy.errors import ConfigError
from pmis_deploy.gcp.settings import GcpSettings
from pmis_deploy.settings_base import Environment, LogLevel, Strict

ENV_PREFIX = "PMIS_"
# Plain variables users already have (the apps read them too), mapped onto settings keys.
ALIASES = {"AZURE_OPENAI_API_KEY": "secrets.azure_openai_api_key"}


class DeploySettings(Strict):
    """How releases behave in this environment."""

    # The checklist gate: names of checks (see `inv checks --help`) run before every deploy.
    gate: list[str] = Field(default_factory=lambda: ["all"])
    confirm: bool = False  # require --yes or an interactive yes
    lock_stale_after_minutes: int = Field(120, ge=5)
    health_path: str = Field("/health", pattern=r"^/")
    health_timeout_seconds: int = Field(120, ge=5)
    push_images: bool = True
    # `--checks-report FILE` (a `nox -s predeploy` report of this same tree) is accepted only this fresh.
    checks_report_max_age_minutes: int = Field(120, ge=1)


class LocalSettings(Strict):
    """The `local` environment's stand-ins: the database the migration and health check use."""

    database_url: SecretStr = SecretStr("postgresql+psycopg://postgres@127.0.0.1:55432/pmis")
    postgres_port: int = Field(55432, ge=1024, le=65535)
    api_port: int = Field(18000, ge=1024, le=65535)
    aws_port: int = Field(5055, ge=1024, le=65535)
    gcp_port: int = Field(5056, ge=1024, le=65535)
    state_dir: str = ".pmis-local"


class AppSecrets(Strict):
    """Values the user provides (from .env or the environment); never printed."""

    azure_openai_api_key: SecretStr | None = None


class Settings(Strict):
    environment: Environment
    project: str = Field("pmis", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    log_level: LogLevel = LogLevel.info
    deploy: DeploySettings = DeploySettings()
    aws: AwsSettings = AwsSettings()
    gcp: GcpSettings = GcpSettings()
    checks: ChecksSettings = ChecksSettings()
    local: LocalSettings = LocalSettings()
    secrets: AppSecrets = AppSecrets()

    def name(self, *parts: str) -> str:
        """A resource name for this environment: pmis-<env>-<parts…>."""
        return "-".join([self.project, self.environment.value, *parts])

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production


@dataclass
class LoadedSettings:
    """Validated settings plus where each key's value came from."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    root: Path = Path(".")

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")


def project_root(start: Path | None = None) -> Path:
    """The directory holding config/base.toml (searching upwards from `start` or the CWD)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "config" / "base.toml").is_file():
            return candidate
    raise ConfigError(
        f"no config/base.toml found in {here} or any parent directory",
        hint="run the command from a PMIS deploy checkout (the directory with config/ and tasks/)",
    )


def environments(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "config").glob("*.toml") if p.stem != "base")


def load_settings(
    env: str | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> LoadedSettings:
    """Load, merge and validate the settings of `env` (default: $PMIS_ENV or `local`)."""
    environ = os.environ if environ is None else environ
    root = root or project_root()
    env = env or environ.get("PMIS_ENV") or "local"
    known = environments(root)
    if env not in known or env not in Environment.__members__:
        close = [k for k in known if k.startswith(env)] or difflib.get_close_matches(env, known, n=1)
        raise ConfigError(
            f"--env: unknown environment {env!r}" + (f" (did you mean {close[0]}?)" if close else ""),
            hint=f"use one of: {', '.join(known)} (each is a file config/<env>.toml)",
        )
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in (root / "config" / "base.toml", root / "config" / f"{env}.toml"):
        layer = _read_toml(path, root)
        _merge(merged, layer, str(path.relative_to(root)), sources)
    dotenv_file = dotenv_path or root / ".env"
    if dotenv_file.is_file():
        _merge(merged, *_from_variables(_read_dotenv(dotenv_file), ".env"), sources)
    _merge(merged, *_from_variables(environ, "environment"), sources)
    merged["environment"] = env
    sources["environment"] = "--env" if env != environ.get("PMIS_ENV") else "environment"
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources, merged), hint=None) from None
    _register_secrets(settings)
    return LoadedSettings(settings, sources, root)


def _read_toml(path: Path, root: Path) -> dict[str, Any]:
    rel = path.relative_to(root)
    if not path.is_file():
        raise ConfigError(f"{rel}: file not found", hint=f"create {rel} (copy config/staging.toml as a start)")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{rel}: not valid TOML: {exc}", hint="fix the syntax at that line") from None
    if "environment" in data:
        raise ConfigError(
            f"{rel}: key 'environment' cannot be set in a file",
            hint="the environment is the file's name; remove the key",
        )
    return data


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _from_variables(variables: Mapping[str, str], origin: str) -> tuple[dict[str, Any], dict[str, str]]:
    """PMIS_A__B=v → {"a": {"b": v}}; also the plain ALIASES. Values that look like JSON are parsed.

    Returns the nested mapping and, per dotted key, its origin label (`.env (PMIS_A__B)`).
    """
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, raw in variables.items():
        if name in ALIASES:
            dotted = ALIASES[name]
        elif name.startswith(ENV_PREFIX) and name not in ("PMIS_ENV",) and not name.startswith("PMIS_TEST_"):
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        else:
            continue
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"{origin}: {name}={raw[:40]!r} looks like JSON but does not parse",
                    hint='write a JSON list or table, e.g. ["a", "b"]',
                ) from None
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{origin}: {name} conflicts with another variable setting {p}")
        node[leaf] = value
        labels[dotted] = f"{origin} ({name})"
    return out, labels


def _merge(
    into: dict[str, Any],
    layer: Mapping[str, Any],
    origin: str | Mapping[str, str],
    sources: dict[str, str],
    prefix: str = "",
) -> None:
    """Deep-merge `layer` into `into`, recording each leaf's origin (a label, or a label per key)."""
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, sources, dotted + ".")
        elif isinstance(value, Mapping):
            into[key] = {}
            _merge(into[key], value, origin, sources, dotted + ".")
        else:
            into[key] = value
            label = origin if isinstance(origin, str) else origin.get(dotted, "environment")
            sources[dotted] = label
            for stale in [s for s in sources if s.startswith(dotted + ".")]:
                sources[stale] = label


def _explain(exc: ValidationError, sources: Mapping[str, str], merged: Mapping[str, Any]) -> str:
    """Turn pydantic's errors into `file: key "value" problem (fix)` lines."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
        key = ".".join(str(p) for p in err["loc"])
        origin = _origin(key, sources)
        value = err.get("input")
        shown = "" if isinstance(value, Mapping) else f" {_short(value, key)}"
        problem = err["msg"].removeprefix("Value error, ")
        fix = ""
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            options = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(loc[-1], options, n=1)
            problem = "is not a known setting"
            fix = f"did you mean {close[0]}?" if close else f"known keys here: {', '.join(options)}"
        elif err["type"] == "enum":
            expected = err.get("ctx", {}).get("expected", "")
            fix = f"use one of {expected}"
        elif err["type"] == "missing":
            fix = "add it"
        lines.append(f"{origin}: {key}{shown} {problem}" + (f" ({fix})" if fix else ""))
    return "invalid settings:\n  " + "\n  ".join(lines)


def _origin(key: str, sources: Mapping[str, str]) -> str:
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in sources:
            return sources[candidate]
    return "config"


def _short(value: Any, key: str) -> str:
    if any(word in key for word in ("password", "secret", "token", "key", "url")):
        return '"***"'
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def _model_at(path: list[str]) -> type[Strict] | None:
    model: Any = Settings
    for part in path:
        field_info = model.model_fields.get(part)
        if field_info is None:
            return None
        annotation = field_info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, Strict)):
            return None
        model = annotation
    return model if isinstance(model, type) and issubclass(model, Strict) else None


def _register_secrets(settings: Settings) -> None:
    from pmis_deploy.redaction import register_secret

    for _, value in _walk(settings):
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            register_secret(secret)
            if "://" in secret:  # the password inside a URL
                from urllib.parse import urlsplit

                register_secret(urlsplit(secret).password)


def _walk(model: Strict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        dotted = f"{prefix}{name}"
        if isinstance(value, Strict):
            yield from _walk(value, dotted + ".")
        else:
            yield dotted, value


def describe(loaded: LoadedSettings) -> list[tuple[str, Any, str]]:
    """Every resolved key as (dotted key, JSON-safe redacted value, source)."""
    rows = []
    for key, value in _walk(loaded.settings):
        if isinstance(value, SecretStr):
            shown: Any = "**********"
        elif isinstance(value, list):
            shown = [v.model_dump(mode="json") if isinstance(v, Strict) else v for v in value]
        elif hasattr(value, "value"):
            shown = value.value
        else:
            shown = value
        rows.append((key, shown, loaded.source_of(key)))
    return rows
