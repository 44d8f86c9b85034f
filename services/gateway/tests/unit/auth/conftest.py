"""Fixtures for the OIDC enforcement tests: a signing key, a token minter and a fake identity service."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import orjson
import pytest
from cityos.identity.v1 import identity_pb2 as ipb
from cityos_gateway.app import create_app
from cityos_gateway.config import GatewaySettings, RateLimit
from cityos_gateway.security.oidc import build_enforcement
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

ISSUER = "https://city.example"
AUDIENCE = "cityos"


def make_key(kid: str) -> ECKey:
    """A P-256 signing key declaring ES256, as the identity service publishes them."""
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"})


@dataclass
class FakeIdentity:
    """Stands in for the Identity stub: JWKS, revocations, API keys and per-tenant policies."""

    keys: list[ECKey]
    revoked: list[ipb.RevokedToken] = field(default_factory=list)
    api_keys: dict[str, ipb.ApiKey] = field(default_factory=dict)
    policies: dict[str, ipb.AccessPolicies] = field(default_factory=dict)
    jwks_calls: int = 0
    policy_calls: int = 0
    key_calls: int = 0

    async def GetJwks(self, request: Any, **_: Any) -> ipb.GetJwksResponse:
        self.jwks_calls += 1
        return ipb.GetJwksResponse(jwks=orjson.dumps(KeySet(self.keys).as_dict(private=False)))

    async def ListRevokedTokens(self, request: Any, **_: Any) -> ipb.ListRevokedTokensResponse:
        return ipb.ListRevokedTokensResponse(tokens=self.revoked, as_of=int(time.time()))

    async def VerifyApiKey(self, request: Any, **_: Any) -> ipb.VerifyApiKeyResponse:
        self.key_calls += 1
        key = self.api_keys.get(request.key)
        return ipb.VerifyApiKeyResponse(valid=key is not None, key=key)

    async def GetAccessPolicies(self, request: Any, **_: Any) -> ipb.AccessPolicies:
        self.policy_calls += 1
        if request.tenant not in self.policies:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "no"
            )
        return self.policies[request.tenant]


def claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a valid access token of client citya.app in tenant citya."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "citya.app",
        "client_id": "citya.app",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": f"jti-{now}-{id(overrides)}",
        "scope": "entities:read entities:write subscriptions",
        "tenant": "citya",
        "tenants": ["citya"],
        "roles": ["developer"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


Mint = Callable[..., str]


@pytest.fixture
def key() -> ECKey:
    return make_key("k1")


@pytest.fixture
def identity(key: ECKey) -> FakeIdentity:
    fake = FakeIdentity([key])
    for tenant in ("citya", "cityb"):
        fake.policies[tenant] = ipb.AccessPolicies(tenant=tenant, tenant_state="active", version=1)
    return fake


@pytest.fixture
def mint(key: ECKey) -> Mint:
    """mint(**claim overrides, header=..., signing_key=...) -> a compact JWT."""

    def make(header: dict[str, Any] | None = None, signing_key: Any = None, **overrides: Any) -> str:
        head = {"alg": "ES256", "kid": "k1", "typ": "at+jwt"} | (header or {})
        return jwt.encode(head, claims(**overrides), signing_key or key)

    return make


@dataclass
class FakeRedis:
    """Redis as the rate limiter uses it: its counting script (INCR + EXPIRE) in one round trip."""

    counters: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0

    async def evalsha(self, sha: str, numkeys: int, key: str, ttl: int) -> int:
        self.round_trips += 1
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


@pytest.fixture
def rate_limit() -> RateLimit:
    """Generous by default; a test parametrizes `rate_limit` to try the limit itself."""
    return RateLimit(1000, 60)


@pytest.fixture
def oidc_settings(settings_factory: Any, rate_limit: RateLimit) -> GatewaySettings:
    settings: GatewaySettings = settings_factory(
        auth_mode="oidc",
        identity_issuer=ISSUER,
        identity_audience=AUDIENCE,
        rate_limit=rate_limit,
    )
    return settings


@pytest.fixture
async def oidc(
    oidc_settings: GatewaySettings, broker: Any, identity: FakeIdentity, redis: FakeRedis
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in oidc mode over the fake broker and identity (JWKS loaded, revocations polled once)."""
    enforcement = build_enforcement(oidc_settings, identity, redis)  # type: ignore[arg-type]
    assert enforcement.jwks is not None and enforcement.revocations is not None
    await enforcement.jwks.refresh()
    await enforcement.revocations.poll_once()
    app = create_app(oidc_settings, broker, identity=identity, enforcement=enforcement)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        http.enforcement = enforcement  # type: ignore[attr-defined]
        yield http


@pytest.fixture
def new_key() -> Callable[[str], ECKey]:
    return make_key
