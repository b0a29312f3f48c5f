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
# APIs gcloud has no override property for (servicenetworking) go to their real https host through the
# proxy; the fake serves them in the CONNECT tunnel with a certificate of its own CA, which gcloud trusts
# through core/custom_ca_certs_file.
CA_FILE = "fake-gcp-ca.pem"


def fetch_ca(port: int) -> str | None:
    """The CA certificate of the fake on `port` (GET /_fake/ca.pem); None when nothing answers there."""
    import urllib.request

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via the shell's proxy
    try:
        with direct.open(f"http://127.0.0.1:{port}/_fake/ca.pem", timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    return text if "BEGIN CERTIFICATE" in text else None


def gcloud_env(
    port: int, config_dir: str | Path, *, project: str = DEFAULT_PROJECT, ca_pem: str | None = None
) -> dict[str, str]:
    """Exactly the variables the gcloud runner sets to drive the fake on `port`.

    Writes the access-token file and the fake's CA certificate (`ca_pem`, else fetched from the fake;
    left out when the fake does not answer) into `config_dir` (created if needed). Proxy bypass lists are emptied:
    a NO_PROXY inherited from the shell (`*`, `.fake`, `127.0.0.1`) would send requests around the fake.
    """
    config = Path(config_dir)
    config.mkdir(parents=True, exist_ok=True)
    token = config / "fake-access-token"
    token.write_text(TOKEN)
    base = f"http://127.0.0.1:{port}"
    env = {f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}": f"{base}/{api}/" for api in OVERRIDDEN_APIS}
    env["CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"] = RUN_OVERRIDE
    ca_pem = ca_pem or fetch_ca(port)
    if ca_pem:
        ca = config / CA_FILE
        ca.write_text(ca_pem)
        env["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"] = str(ca)
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
