"""Local verification of RFC 9068 access tokens against a cached JWKS (no RPC per request)."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from cityos_gateway.auth import Principal, unauthorized

_log = logging.getLogger("cityos.gateway.auth")
# Algorithms the gateway will ever accept, whatever a JWKS declares: asymmetric signatures only, so a
# public key can never be used as an HMAC secret and "none" is impossible.
_ASYMMETRIC = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
PLATFORM_ADMIN = "platform-admin"
_MAX_VERIFIED = 10_000

JwksFetch = Callable[[], Awaitable[bytes]]


class JwksCache:
    """The issuer's public keys: fetched at start, refetched on an unknown kid (rate-limited)."""

    def __init__(
        self, fetch: JwksFetch, *, min_interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._min_interval = min_interval
        self._clock = clock
        self._keys: KeySet | None = None
        self._algorithms: dict[str, str] = {}  # kid -> alg the JWKS declares for it
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently cached."""
        return frozenset(self._algorithms)

    async def refresh(self) -> bool:
        """Fetch and import the JWKS; False (logged) when the identity service cannot be reached."""
        self._last_attempt = self._clock()
        try:
            document = orjson.loads(await self._fetch())
            keys = [k for k in document.get("keys", []) if isinstance(k, dict) and k.get("kid")]
            algorithms = {str(k["kid"]): str(k.get("alg", "")) for k in keys}
            self._keys = KeySet.import_key_set({"keys": keys})
        except Exception as error:
            _log.warning("cannot fetch the JWKS", extra={"event": "jwks_fetch_failed", "error": repr(error)})
            return False
        self._algorithms = {kid: alg for kid, alg in algorithms.items() if alg in _ASYMMETRIC}
        _log.info("JWKS loaded", extra={"event": "jwks_loaded", "kids": sorted(self._algorithms)})
        return True

    async def key_for(self, kid: str) -> tuple[KeySet, str] | None:
        """The key set and the declared algorithm of `kid`; one rate-limited refetch when it is unknown."""
        if kid not in self._algorithms:
            async with self._lock:
                if kid not in self._algorithms and self._may_refetch():
                    await self.refresh()
        alg = self._algorithms.get(kid)
        if alg is None or self._keys is None:
            return None
        return self._keys, alg

    def _may_refetch(self) -> bool:
        # Without any key (identity was down at start) retry every second; else at most every min_interval.
        interval = self._min_interval if self._algorithms else 1.0
        return self._last_attempt is None or self._clock() - self._last_attempt >= interval


def _header(token: str) -> dict[str, Any]:
    """The unverified JOSE header, only to pick the key; the signature check follows."""
    segment = token.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError as error:
        raise unauthorized("the access token is malformed") from error
    if not isinstance(header, dict):
        raise unauthorized("the access token is malformed")
    return header


class AccessTokenVerifier:
    """Signature (the JWKS's declared algorithm only), typ, iss, aud, exp / nbf / iat with a small leeway."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._now = now
        # Verified tokens by value: a client repeats its token on every call, so the signature check
        # (the costly part) runs once per token, not per request. Entries still expire with the token.
        self._verified: dict[str, dict[str, Any]] = {}

    async def verify(self, token: str) -> dict[str, Any]:
        """The verified claims, or a 401 AuthProblem that says what is wrong (never the token itself)."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached["exp"] + self._leeway >= self._now():
                return cached
            del self._verified[token]
        claims = await self._verify(token)
        if len(self._verified) >= _MAX_VERIFIED:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise unauthorized("the access token is not a signed JWT")
        header = _header(token)
        kid = str(header.get("kid", ""))
        found = await self._jwks.key_for(kid) if kid else None
        if found is None:
            raise unauthorized("the access token is signed with an unknown key")
        keys, alg = found
        # Never take the algorithm from the token: it must be the one the key declares.
        if header.get("alg") != alg:
            raise unauthorized("the access token's algorithm does not match its key")
        if str(header.get("typ", "")).lower() not in _ACCESS_TOKEN_TYPES:
            raise unauthorized("the token is not an access token (typ at+jwt)")
        try:
            decoded = jwt.decode(token, keys, algorithms=[alg])
        except (JoseError, ValueError) as error:
            raise unauthorized("the access token's signature is invalid") from error
        claims = dict(decoded.claims)
        try:
            jwt.JWTClaimsRegistry(
                now=int(self._now()),
                leeway=self._leeway,
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self._audience},
                exp={"essential": True},
                sub={"essential": True},
                jti={"essential": True},
            ).validate(claims)
        except JoseError as error:
            raise unauthorized(_claim_error(error)) from error
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat > self._now() + self._leeway:
            raise unauthorized("the access token was issued in the future")
        return claims


def _claim_error(error: JoseError) -> str:
    """A short, token-free reason for a failed claim check."""
    name = type(error).__name__
    if name == "ExpiredTokenError":
        return "the access token has expired"
    if "not yet valid" in (error.description or ""):
        return "the access token is not valid yet"
    return f"the access token is not valid here ({error.description or name})"


def principal_from_claims(claims: dict[str, Any], token: str) -> Principal:
    """The caller a verified access token describes; platform admins may use every tenant."""
    roles = frozenset(str(r) for r in claims.get("roles", []) if isinstance(r, str))
    tenants_claim = claims.get("tenants") or ([claims["tenant"]] if claims.get("tenant") else [])
    tenants = None if PLATFORM_ADMIN in roles else frozenset(str(t) for t in tenants_claim)
    scope = claims.get("scope", "")
    return Principal(
        subject=str(claims["sub"]),
        tenants=tenants,
        scopes=frozenset(str(scope).split()) if isinstance(scope, str) else frozenset(),
        client_id=str(claims.get("client_id", "")),
        roles=roles,
        token=token,
    )
