"""GATEWAY_AUTH_MODE=oidc: bearer access tokens and API keys, checked against cached identity data."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cityos.identity.v1 import identity_pb2 as ipb
from cityos_runtime.policy_cache import PolicyCache

from cityos_gateway.auth import ANONYMOUS, Authenticator, OpenAuthenticator, Principal, unauthorized
from cityos_gateway.config import GatewaySettings
from cityos_gateway.http import Request
from cityos_gateway.security.access import AccessDecider
from cityos_gateway.security.apikeys import ApiKeyCache
from cityos_gateway.security.ratelimit import RateLimiter
from cityos_gateway.security.revocations import RevocationList
from cityos_gateway.security.tokens import AccessTokenVerifier, JwksCache, principal_from_claims

if TYPE_CHECKING:
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

_log = logging.getLogger("cityos.gateway.auth")
_INTERNAL_TIMEOUT = 5.0


class OidcAuthenticator:
    """`Authorization: Bearer <JWT>` (verified locally), `Authorization: ApiKey <key>` or `X-API-Key`;
    no credentials at all is the anonymous caller (public data only)."""

    def __init__(
        self, verifier: AccessTokenVerifier, revocations: RevocationList, api_keys: ApiKeyCache
    ) -> None:
        self._verifier = verifier
        self._revocations = revocations
        self._api_keys = api_keys

    async def authenticate(self, request: Request) -> Principal:
        """The caller, or 401 for credentials that do not verify."""
        authorization = request.header("authorization").strip()
        api_key = request.header("x-api-key").strip()
        if authorization:
            scheme, _, credentials = authorization.partition(" ")
            credentials = credentials.strip()
            if scheme.lower() == "bearer" and credentials:
                return await self._bearer(credentials)
            if scheme.lower() == "apikey" and credentials:
                return await self._api_keys.principal(credentials)
            raise unauthorized(
                "use Authorization: Bearer <access token> or ApiKey <key>", error="invalid_request"
            )
        if api_key:
            return await self._api_keys.principal(api_key)
        return ANONYMOUS

    async def _bearer(self, token: str) -> Principal:
        claims = await self._verifier.verify(token)
        if self._revocations.is_revoked(str(claims["jti"])):
            raise unauthorized("the access token has been revoked")
        return principal_from_claims(claims, token)


@dataclass
class Enforcement:
    """Everything the app enforces with: who calls, what they may do, how often."""

    authenticator: Authenticator
    decider: AccessDecider | None = None  # None: open mode, every tenant and type
    limiter: RateLimiter | None = None
    jwks: JwksCache | None = None
    revocations: RevocationList | None = None
    _closables: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        """Load the JWKS and start polling revocations (failures are retried, not fatal)."""
        if self.jwks is not None:
            await self.jwks.refresh()
        if self.revocations is not None:
            self.revocations.start()

    async def ready(self) -> bool:
        """Whether tokens can be verified: the JWKS is loaded (retried here while it is not)."""
        if self.jwks is None or self.jwks.kids:
            return True
        return await self.jwks.refresh() and bool(self.jwks.kids)

    async def close(self) -> None:
        """Stop the background work and close the Redis client."""
        if self.revocations is not None:
            await self.revocations.close()
        for closable in self._closables:
            await closable.aclose()


def open_enforcement() -> Enforcement:
    """GATEWAY_AUTH_MODE=open (the loud development mode)."""
    from cityos_gateway.auth import build_authenticator

    authenticator = build_authenticator("open")
    assert isinstance(authenticator, OpenAuthenticator)
    return Enforcement(authenticator)


def build_enforcement(
    settings: GatewaySettings, identity: IdentityAsyncStub, redis: Any | None
) -> Enforcement:
    """The OIDC enforcement over the identity stub (and Redis for rate limits, when configured)."""

    async def jwks() -> bytes:
        reply = await identity.GetJwks(ipb.GetJwksRequest(), timeout=_INTERNAL_TIMEOUT)
        return bytes(reply.jwks)

    async def revoked(since: int) -> Any:
        return await identity.ListRevokedTokens(
            ipb.ListRevokedTokensRequest(since=since), timeout=_INTERNAL_TIMEOUT
        )

    async def verify_key(key: str) -> Any:
        return await identity.VerifyApiKey(ipb.VerifyApiKeyRequest(key=key), timeout=_INTERNAL_TIMEOUT)

    async def policies(tenant: str) -> Any:
        request = ipb.GetAccessPoliciesRequest(tenant=tenant)
        return await identity.GetAccessPolicies(request, timeout=_INTERNAL_TIMEOUT)

    cache = JwksCache(jwks)
    verifier = AccessTokenVerifier(
        cache, issuer=settings.identity_issuer, audience=settings.identity_audience
    )
    revocations = RevocationList(revoked, interval=settings.revocation_poll)
    authenticator = OidcAuthenticator(verifier, revocations, ApiKeyCache(verify_key))
    limiter = None
    closables: list[Any] = []
    if settings.rate_limit is not None:
        if redis is None:
            _log.warning("GATEWAY_RATE_LIMIT is set but REDIS_URL is not: rate limiting is off")
        else:
            limiter = RateLimiter(redis, settings.rate_limit)
            closables.append(redis)
    decider = AccessDecider(PolicyCache(policies, ttl=settings.policy_ttl))
    return Enforcement(authenticator, decider, limiter, cache, revocations, closables)
