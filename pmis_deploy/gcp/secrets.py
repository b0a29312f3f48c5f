"""Secret Manager (S3, S4): the secrets the services read, a new version only when the value changed.

Payloads go to gcloud through stdin (`--data-file=-`), never argv, never a file. Values are compared
with the latest version read in observe (`versions access latest`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pmis_deploy.errors import ConfigError
from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.context import Ctx
from pmis_deploy.gcp.observe import Observed, last
from pmis_deploy.gcp.plan import Phases, change
from pmis_deploy.redaction import register_secret

LABELS = {"managed-by": "pmis-deploy"}
LOCAL_PLACEHOLDER_KEY = "local-placeholder-not-an-azure-key"

Value = str | Callable[[], str]  # a callable when the value only exists after phase 2 (a new Redis)


def azure_key(ctx: Ctx, seen: Observed) -> str | None:
    """The Azure OpenAI key from settings; None to keep the stored one; a placeholder only in local."""
    configured = ctx.settings.secrets.azure_openai_api_key
    if configured is not None:
        return configured.get_secret_value()
    if ctx.names.secret("azure-openai-key") in seen.secret_latest:
        return None
    if ctx.settings.environment.value == "local":
        return LOCAL_PLACEHOLDER_KEY
    raise ConfigError(
        "secrets.azure_openai_api_key is not set and Secret Manager has no version of "
        f"{ctx.names.secret('azure-openai-key')}",
        hint="set AZURE_OPENAI_API_KEY in .env (or the environment) and run again",
    )


PENDING = "new"


def plan(ctx: Ctx, seen: Observed, phases: Phases, values: dict[str, Value | None]) -> dict[str, str]:
    """Plan creating each secret and adding a version when its value differs from the latest.

    `values`: secret key → value (None: keep whatever is stored). Returns secret name → version id: the
    latest now, or PENDING for a version this plan adds (its closure writes the real id in on apply).
    """
    n = ctx.names
    versions = {name: v.version for name, v in seen.secret_latest.items()}
    for key, value in values.items():
        name = n.secret(key)
        exists = name in seen.secrets
        current = seen.secret_latest.get(name)
        if value is None:
            if not exists:
                cmd = g.secret_create(name, LABELS)
                phases.add(
                    3, change(f"secret {name}", "create", "no value yet", functools.partial(ctx.gcloud.run, cmd))
                )
            continue
        if not callable(value):
            register_secret(value)
            if current is not None and current.value == value:
                continue
        versions[name] = PENDING
        if not exists:
            why = "with its first version" + (" (value of the new resource)" if callable(value) else "")
            phases.add(3, change(f"secret {name}", "create", why, _writer(ctx, name, value, versions, create=True)))
        else:
            why = "first version" if current is None else f"value changed (was version {current.version})"
            phases.add(3, change(f"secret {name}", "add version", why, _writer(ctx, name, value, versions)))
    return versions


def _writer(ctx: Ctx, name: str, value: Value, versions: dict[str, str], *, create: bool = False) -> Callable[[], str]:
    """Create the secret with the value, or add a version; record the new version id in `versions`."""

    def run() -> str:
        payload = value() if callable(value) else value
        if not payload:  # nothing to store after all (e.g. the instance reports no TLS CA)
            versions.pop(name, None)
            return ""
        register_secret(payload)
        cmd = g.secret_create(name, LABELS, payload) if create else g.secret_version_add(name, payload)
        out = ctx.gcloud.run(cmd)
        if create:
            versions[name] = "1"  # a new secret's first version
        elif isinstance(out, dict) and out.get("name"):
            versions[name] = last(out["name"])
        else:  # no output: ask for the id
            latest = ctx.gcloud.run(g.Cmd(("secrets", "versions", "describe"), ("latest",), ("--secret=" + name,)))
            versions[name] = last(latest.get("name", "latest"))
        return versions[name]

    return run
