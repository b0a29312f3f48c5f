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
        if name not in seen.secrets:
            cmd = g.secret_create(name, LABELS)
            phases.add(
                2, change(f"secret {name}", "create", "automatic replication", functools.partial(ctx.gcloud.run, cmd))
            )
        if value is None:
            continue
        current = seen.secret_latest.get(name)
        if callable(value):
            versions[name] = PENDING
            adder = _adder(ctx, name, value, versions)
            phases.add(3, change(f"secret {name}", "add version", "value of the new resource", adder))
        elif current is None or current.value != value:
            register_secret(value)
            why = "first version" if current is None else f"value changed (was version {current.version})"
            versions[name] = PENDING
            phases.add(3, change(f"secret {name}", "add version", why, _adder(ctx, name, value, versions)))
    return versions


def _adder(ctx: Ctx, name: str, value: Value, versions: dict[str, str]) -> Callable[[], str]:
    def run() -> str:
        payload = value() if callable(value) else value
        register_secret(payload)
        added = ctx.gcloud.run(g.secret_version_add(name, payload))
        if isinstance(added, dict) and added.get("name"):
            versions[name] = last(added["name"])
        else:  # older gcloud prints nothing: ask for the id of the version just added
            latest = ctx.gcloud.run(g.Cmd(("secrets", "versions", "describe"), ("latest",), ("--secret=" + name,)))
            versions[name] = last(latest.get("name", "latest"))
        return versions[name]

    return run
