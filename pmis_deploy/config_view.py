"""Rendering of resolved settings for `inv config.show`."""

from __future__ import annotations

import json

from pmis_deploy import console
from pmis_deploy.config import LoadedSettings, describe


def render(loaded: LoadedSettings, *, as_json: bool = False) -> None:
    rows = describe(loaded)
    env = loaded.settings.environment.value
    if as_json:
        payload = {
            "environment": env,
            "settings": {key: {"value": value, "source": source} for key, value, source in rows},
        }
        console.result(json.dumps(payload, indent=2, default=str))
        return
    console.table(
        f"settings of {env}",
        ["key", "value", "source"],
        [(k, json.dumps(v, default=str) if not isinstance(v, str) else v, s) for k, v, s in rows],
    )
