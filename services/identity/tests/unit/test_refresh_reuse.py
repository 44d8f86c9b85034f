"""Refresh-token rotation and reuse detection in the provider, over in-memory stores (no Redis)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import orjson
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.models import Client, Tenant, User
from cityos_identity.oauth.bridge import Bridge
from cityos_identity.oauth.http import Request
from cityos_identity.oauth.provider import Provider, ProviderConfig

ISSUER = "https://city.example.jp"
CLIENT = Client(
    client_id="t.app",
    tenant="t",
    confidential=False,
    redirect_uris=["https://app/cb"],
    grant_types=["authorization_code", "refresh_token"],
    scopes=["openid", "entities:read"],
)
USER = User(id="u-1", username="hanako", password_hash="x", memberships={"t": ["resident"]})


class MemoryTokens:
    """TokenStore's refresh-token contract, with the consume script's semantics."""

    def __init__(self) -> None:
        self.refresh: dict[str, dict[str, Any]] = {}
        self.revoked_families: set[str] = set()
        self.family_jtis: dict[str, set[str]] = {}
        self.revoked_jtis: set[str] = set()

    async def save_refresh(self, token: str, family: str, data: dict[str, Any], ttl: int) -> None:
        self.refresh[token] = {"state": "active", "family": family, "data": data}

    async def add_family_access(self, family: str, jti: str, expires_at: int, ttl: int) -> None:
        self.family_jtis.setdefault(family, set()).add(jti)

    async def peek_refresh(self, token: str) -> tuple[str, str, dict[str, Any]] | None:
        found = self.refresh.get(token)
        return (found["state"], found["family"], found["data"]) if found else None

    async def family_revoked(self, family: str) -> bool:
        return family in self.revoked_families

    async def consume_refresh(self, token: str) -> tuple[str, dict[str, Any] | None]:
        found = self.refresh.get(token)
        if found is None:
            return "missing", None
        if found["family"] in self.revoked_families:
            return "revoked", None
        if found["state"] != "active":
            self.revoked_families.add(found["family"])
            self.revoked_jtis |= self.family_jtis.get(found["family"], set())
            return "reused", None
        found["state"] = "used"
        return "ok", found["data"]


class FakeKeyring:
    async def sign(self, claims: dict[str, Any], *, typ: str) -> str:
        def b64(data: dict[str, Any]) -> str:
            import base64

            return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

        return f"{b64({'alg': 'ES256', 'typ': typ})}.{b64(claims)}.sig"


def _provider(tokens: MemoryTokens) -> tuple[Provider, Bridge]:
    async def get_client(client_id: str) -> Client | None:
        return CLIENT if client_id == CLIENT.client_id else None

    async def get_tenant(name: str) -> Tenant | None:
        return Tenant(name=name)

    async def get_user(user_id: str) -> User | None:
        return USER if user_id == USER.id else None

    stores = SimpleNamespace(
        principals=SimpleNamespace(get_client=get_client),
        directory=SimpleNamespace(get_tenant=get_tenant, get_user=get_user),
        tokens=tokens,
    )
    bridge = Bridge(workers=2)
    provider = Provider(ProviderConfig(ISSUER, "cityos", 900, 3600), stores, FakeKeyring(), bridge)  # type: ignore[arg-type]
    return provider, bridge


async def _refresh(
    provider: Provider, bridge: Bridge, token: str, scope: str = ""
) -> tuple[int, dict[str, Any]]:
    fields = {"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT.client_id}
    form = urlencode(fields | ({"scope": scope} if scope else {}))
    request = Request.from_proto(
        pb.HttpRequest(
            method="POST",
            path="/oauth2/token",
            body=form.encode(),
            headers=[pb.HttpHeader(name="Content-Type", value="application/x-www-form-urlencoded")],
        )
    )
    response = await bridge.call(provider.create_token_response, request)
    return response.status, orjson.loads(response.body)


async def test_rotation_then_reuse_revokes_the_family() -> None:
    tokens = MemoryTokens()
    provider, bridge = _provider(tokens)
    try:
        await tokens.save_refresh(
            "rt.first", "fam", {"client_id": "t.app", "sub": "u-1", "scope": "openid"}, 60
        )
        status, body = await _refresh(provider, bridge, "rt.first")
        assert status == 200 and body["refresh_token"].startswith("rt.") and body["scope"] == "openid"
        second = body["refresh_token"]
        assert tokens.refresh["rt.first"]["state"] == "used"
        assert tokens.refresh[second]["family"] == "fam" and tokens.refresh[second]["state"] == "active"
        issued = set(tokens.family_jtis["fam"])
        assert len(issued) == 1

        status, body = await _refresh(provider, bridge, "rt.first")  # replay of the rotated token
        assert status == 400 and body["error"] == "invalid_grant"
        assert "fam" in tokens.revoked_families and issued <= tokens.revoked_jtis

        status, body = await _refresh(provider, bridge, second)  # the legitimate successor dies too
        assert status == 400 and body["error"] == "invalid_grant"
    finally:
        bridge.close()


async def test_concurrent_use_loses_the_race_atomically() -> None:
    tokens = MemoryTokens()
    provider, bridge = _provider(tokens)
    try:
        await tokens.save_refresh(
            "rt.race", "fam2", {"client_id": "t.app", "sub": "u-1", "scope": "openid"}, 60
        )
        original = tokens.peek_refresh

        async def peek_then_race(token: str) -> tuple[str, str, dict[str, Any]] | None:
            found = await original(token)
            await tokens.consume_refresh(token)  # another request consumed it after this one looked
            return found

        tokens.peek_refresh = peek_then_race  # type: ignore[method-assign]
        status, body = await _refresh(provider, bridge, "rt.race")
        assert status == 400 and body["error"] == "invalid_grant"
        assert "fam2" in tokens.revoked_families
        assert [t for t in tokens.refresh if t != "rt.race"] == []  # no successor was stored
    finally:
        bridge.close()


async def test_unknown_token_and_wrong_client() -> None:
    tokens = MemoryTokens()
    provider, bridge = _provider(tokens)
    try:
        status, body = await _refresh(provider, bridge, "rt.unknown")
        assert status == 400 and body["error"] == "invalid_grant"
        await tokens.save_refresh("rt.other", "fam3", {"client_id": "t.other", "sub": "u-1", "scope": ""}, 60)
        status, body = await _refresh(provider, bridge, "rt.other")
        assert status == 400 and body["error"] == "invalid_grant"
    finally:
        bridge.close()


async def test_narrowed_refresh_keeps_the_original_grant() -> None:
    tokens = MemoryTokens()
    provider, bridge = _provider(tokens)
    try:
        data = {"client_id": "t.app", "sub": "u-1", "scope": "openid entities:read"}
        await tokens.save_refresh("rt.wide", "fam4", data, 60)
        status, body = await _refresh(provider, bridge, "rt.wide", scope="entities:read")
        assert status == 200 and body["scope"] == "entities:read"
        assert tokens.refresh[body["refresh_token"]]["data"]["scope"] == "openid entities:read"
        status, body = await _refresh(provider, bridge, body["refresh_token"], scope="openid entities:read")
        assert status == 200 and body["scope"] == "openid entities:read"
        status, body = await _refresh(provider, bridge, body["refresh_token"], scope="entities:write")
        assert status == 400 and body["error"] == "invalid_scope"
    finally:
        bridge.close()
