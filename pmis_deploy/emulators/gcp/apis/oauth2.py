"""Google's OAuth 2.0 token endpoint for service-account keys (`token_uri` → http://127.0.0.1:P/oauth2/token).

A service-account key whose `token_uri` points here lets the real `gcloud auth activate-service-account`
and `gcloud auth print-identity-token --audiences=…` work offline. The JWT-bearer assertion is decoded,
not verified (the fake checks no signatures); an assertion with `target_audience` gets an ID token whose
`aud` is that audience, any other an access token. Tokens are unsigned JWTs (signature "fake").
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from pmis_deploy.emulators.gcp.core import JSON, Call, Reply, Router, invalid

router = Router()

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LIFETIME = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_jwt(token: str) -> JSON:
    """The claims of a JWT, unverified."""
    try:
        payload = token.split(".")[1]
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise invalid(f"The assertion is not a JWT: {exc}") from None
    if not isinstance(claims, dict):
        raise invalid("The assertion's claims are not a JSON object.")
    return claims


def encode_jwt(claims: JSON) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": "fake"}
    return ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), "fake"))


@router.route("POST", "token")
def token(call: Call) -> Reply:
    form = dict(parse_qsl(call.raw.decode(errors="replace")))
    if form.get("grant_type") != JWT_BEARER or not form.get("assertion"):
        return 400, {"error": "unsupported_grant_type", "error_description": f"expected {JWT_BEARER}"}
    claims = decode_jwt(form["assertion"])
    issued = int(time.time())
    email = str(claims.get("iss", ""))
    audience = claims.get("target_audience")
    if audience:
        identity = {"iss": "https://accounts.google.com", "aud": audience, "sub": email, "email": email}
        identity.update({"email_verified": True, "iat": issued, "exp": issued + LIFETIME})
        return 200, {"id_token": encode_jwt(identity)}
    access = _b64(f"{email}:{issued}".encode())
    return 200, {"access_token": f"fake-{access}", "expires_in": LIFETIME, "token_type": "Bearer"}
