"""The environment that points the real gcloud CLI at the fake (see reference/gcloud-fake-recipe.md)."""

from __future__ import annotations

from pathlib import Path

from pmis_deploy.emulators.gcp.core import DEFAULT_PROJECT

# The api_endpoint_overrides properties the fake serves; each becomes http://127.0.0.1:<port>/<name>/.
OVERRIDDEN_APIS = (
    "artifactregistry",
    "cloudresourcemanager",
    "cloudscheduler",
    "compute",
    "iam",
    "monitoring",
    "redis",
    "secretmanager",
    "serviceusage",
    "sql",
    "storage",
    "vpcaccess",
)
# Cloud Run prefixes the region to the host (us-central1-run.fake), so it gets a fake host that only
# the proxy (the fake itself) can reach.
RUN_OVERRIDE = "http://run.fake/run/"
TOKEN = "fake-gcp-access-token"  # noqa: S105  (any string; the fake checks none)


def gcloud_env(port: int, config_dir: str | Path, *, project: str = DEFAULT_PROJECT) -> dict[str, str]:
    """Exactly the variables the gcloud runner sets to drive the fake on `port`.

    Writes the access-token file into `config_dir` (created if needed). Proxy bypass lists are emptied:
    a NO_PROXY inherited from the shell (`*`, `.fake`, `127.0.0.1`) would send requests around the fake.
    """
    config = Path(config_dir)
    config.mkdir(parents=True, exist_ok=True)
    token = config / "fake-access-token"
    token.write_text(TOKEN)
    base = f"http://127.0.0.1:{port}"
    env = {f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}": f"{base}/{api}/" for api in OVERRIDDEN_APIS}
    env["CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"] = RUN_OVERRIDE
    env.update(
        {
            "CLOUDSDK_PROXY_TYPE": "http",
            "CLOUDSDK_PROXY_ADDRESS": "127.0.0.1",
            "CLOUDSDK_PROXY_PORT": str(port),
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token),
            "CLOUDSDK_CONFIG": str(config),
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_CORE_PROJECT": project,
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
            "CLOUDSDK_CORE_SHOW_STRUCTURED_LOGS": "never",
            "NO_PROXY": "",
            "no_proxy": "",
            "HTTP_PROXY": "",
            "HTTPS_PROXY": "",
            "http_proxy": "",
            "https_proxy": "",
        }
    )
    return env
