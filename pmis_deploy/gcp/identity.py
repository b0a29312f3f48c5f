"""ID tokens for calling a private Cloud Run service (the health check of an api that requires run.invoker).

A service account (key, impersonation, metadata server) mints a token for the service's URL
(`--audiences`); a user account cannot choose the audience, and Cloud Run accepts its default token
instead (the documented `curl -H "Authorization: Bearer $(gcloud auth print-identity-token)"`).
The token is registered as a secret before anything can print it.
"""

from __future__ import annotations

from typing import Any

from pmis_deploy.gcp import argv as g
from pmis_deploy.gcp.errors import NoIdentityToken
from pmis_deploy.gcp.runner import Gcloud
from pmis_deploy.redaction import register_secret

USER_ACCOUNT = "Invalid account type for `--audiences`"


def id_token(gcloud: Gcloud, audience: str) -> str:
    """An ID token for `audience` (a service account), or the account's default one (a user account)."""
    try:
        out = gcloud.run(g.print_identity_token(audience))
    except NoIdentityToken as exc:
        if USER_ACCOUNT not in (exc.stderr_tail or exc.message):
            raise
        out = gcloud.run(g.print_identity_token(None))
    return _token(out)


def _token(out: Any) -> str:
    values = out if isinstance(out, dict) else {}
    for key in ("id_token", "access_token"):  # gcloud prints both: neither may reach any output
        if values.get(key):
            register_secret(str(values[key]))
    token = values.get("id_token")
    if not token:
        raise NoIdentityToken("gcloud auth print-identity-token printed no id_token", hint=NoIdentityToken.default_hint)
    return str(token)


def bearer(gcloud: Gcloud, audience: str) -> dict[str, str]:
    """The Authorization header for a request to a private Cloud Run service at `audience`."""
    return {"Authorization": f"Bearer {id_token(gcloud, audience)}"}
