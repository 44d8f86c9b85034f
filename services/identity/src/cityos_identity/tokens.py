"""JWT access tokens (RFC 9068) and ID tokens: claim sets, signing through the keyring, verification."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError

from cityos_identity.keyring import Keyring
from cityos_identity.signing import ALGORITHM, CLOCK_SKEW

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type, not a secret
ID_TOKEN_TYP = "JWT"  # noqa: S105 - a media type, not a secret


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, for another audience or issuer, or revoked."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a token is for and what it carries, before it is encoded."""

    subject: str
    client_id: str
    scopes: tuple[str, ...]
    tenant: str  # the client's tenant: the default NGSILD-Tenant of the token
    tenant_roles: Mapping[str, Iterable[str]]  # every tenant the caller may use, with its roles there
    platform_admin: bool = False


def access_token_claims(
    grant: Grant, *, issuer: str, audience: str, now: int, ttl: int, jti: str | None = None
) -> dict[str, Any]:
    """The RFC 9068 claim set, plus `tenant`, `tenants`, `roles` (in `tenant`) and `tenant_roles`."""
    tenant_roles = {t: sorted(set(r)) for t, r in sorted(grant.tenant_roles.items())}
    roles = list(tenant_roles.get(grant.tenant, []))
    if grant.platform_admin:
        roles = ["platform-admin", *roles]
    return {
        "iss": issuer,
        "aud": audience,
        "sub": grant.subject,
        "client_id": grant.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": jti or secrets.token_urlsafe(16),
        "scope": " ".join(grant.scopes),
        "tenant": grant.tenant,
        "tenants": sorted(tenant_roles),
        "roles": roles,
        "tenant_roles": tenant_roles,
    }


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, for routing only (kid); raises InvalidToken when malformed."""
    try:
        segment = token.split(".", 1)[0]
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, orjson.JSONDecodeError) as error:
        raise InvalidToken("malformed token") from error
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header")
    return header


class TokenVerifier:
    """Verifies tokens this issuer signed: ES256 only, known kid, typ, iss, aud, exp/nbf with skew."""

    def __init__(self, keyring: Keyring, *, issuer: str) -> None:
        self._keyring = keyring
        self._issuer = issuer

    async def verify(self, token: str, *, typ: str, audience: str | None) -> dict[str, Any]:
        """The verified claims; raises InvalidToken. `audience` None skips the aud check (ID tokens)."""
        header = unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unsupported token algorithm")
        if str(header.get("typ", "")).lower() not in {typ.lower(), "application/" + typ.lower()}:
            raise InvalidToken("wrong token type")
        keys = await self._keyring.verification_keys(str(header.get("kid", "")))
        try:
            decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self._issuer},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }
            if audience is not None:
                options["aud"] = {"essential": True, "value": audience}
            jwt.JWTClaimsRegistry(leeway=CLOCK_SKEW, **options).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"invalid token: {type(error).__name__}") from error
        return dict(decoded.claims)
