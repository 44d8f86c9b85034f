"""Access-token claims (RFC 9068) and verification: every forged or stale token is rejected."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
import pytest
from cityos_identity.tokens import (
    ACCESS_TOKEN_TYP,
    Grant,
    InvalidToken,
    TokenVerifier,
    access_token_claims,
)
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

ISSUER = "https://city.example.jp"
GRANT = Grant(
    subject="u-1",
    client_id="sapporo.app",
    scopes=("entities:read", "openid"),
    tenant="sapporo",
    tenant_roles={"sapporo": ["resident"], "hokkaido": ["developer", "developer"]},
)


def test_claims() -> None:
    claims = access_token_claims(GRANT, issuer=ISSUER, audience="cityos", now=1000, ttl=900, jti="j1")
    assert claims == {
        "iss": ISSUER,
        "aud": "cityos",
        "sub": "u-1",
        "client_id": "sapporo.app",
        "iat": 1000,
        "nbf": 1000,
        "exp": 1900,
        "jti": "j1",
        "scope": "entities:read openid",
        "tenant": "sapporo",
        "tenants": ["hokkaido", "sapporo"],
        "roles": ["resident"],
        "tenant_roles": {"hokkaido": ["developer"], "sapporo": ["resident"]},
    }


def test_platform_admin_role_and_unique_jti() -> None:
    admin = Grant("u-0", "p.console", ("admin",), "p", {"p": ["tenant-admin"]}, platform_admin=True)
    first = access_token_claims(admin, issuer=ISSUER, audience="cityos", now=1, ttl=60)
    second = access_token_claims(admin, issuer=ISSUER, audience="cityos", now=1, ttl=60)
    assert first["roles"] == ["platform-admin", "tenant-admin"]
    assert first["jti"] != second["jti"] and len(first["jti"]) >= 16


async def _signed(keyring: Any, **overrides: Any) -> str:
    claims = access_token_claims(GRANT, issuer=ISSUER, audience="cityos", now=int(time.time()), ttl=900)
    claims.update(overrides)
    return str(await keyring.sign(claims, typ=ACCESS_TOKEN_TYP))


async def test_valid_token_verifies(keyring: Any) -> None:
    verifier = TokenVerifier(keyring, issuer=ISSUER)
    claims = await verifier.verify(await _signed(keyring), typ=ACCESS_TOKEN_TYP, audience="cityos")
    assert claims["sub"] == "u-1"


@pytest.mark.parametrize(
    ("overrides", "audience"),
    [
        ({"exp": int(time.time()) - 120}, "cityos"),  # expired beyond the clock skew
        ({"nbf": int(time.time()) + 600}, "cityos"),  # not yet valid
        ({}, "another-api"),  # wrong audience
        ({"iss": "https://evil.example"}, "cityos"),  # wrong issuer
    ],
)
async def test_stale_or_misdirected_tokens_fail(
    keyring: Any, overrides: dict[str, Any], audience: str
) -> None:
    verifier = TokenVerifier(keyring, issuer=ISSUER)
    with pytest.raises(InvalidToken):
        await verifier.verify(await _signed(keyring, **overrides), typ=ACCESS_TOKEN_TYP, audience=audience)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_forged_tokens_fail(keyring: Any) -> None:
    verifier = TokenVerifier(keyring, issuer=ISSUER)
    good = await _signed(keyring)
    header, payload, signature = good.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = orjson.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    tampered_payload = _b64(orjson.dumps({**claims, "tenant": "otaru", "tenants": ["otaru"]}))
    none_header = _b64(orjson.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}))
    # HS256 "signed" with the public key's JSON as the HMAC secret (the classic key-confusion attack).
    public = (await keyring.jwks())["keys"][0]
    hs_key = OctKey.import_key(orjson.dumps(public))
    hs_token = jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims, hs_key, algorithms=["HS256"])
    # joserfc refuses a PEM public key as an HMAC secret, so an attacker's library would sign it by hand.
    pem = ECKey.import_key(public).as_pem(private=False)
    signing_input = f"{_b64(orjson.dumps({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid}))}.{payload}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    hs_pem = f"{signing_input}.{_b64(mac)}"
    stranger = ECKey.generate_key("P-256", parameters={"kid": kid})
    foreign = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, stranger, algorithms=["ES256"]
    )
    id_typed = await keyring.sign(claims, typ="JWT")
    forged = [
        f"{header}.{tampered_payload}.{signature}",
        f"{none_header}.{payload}.",
        hs_token,
        hs_pem,
        foreign,
        id_typed,  # an ID token (typ JWT) is not an access token
        "garbage",
        "",
    ]
    for token in forged:
        with pytest.raises(InvalidToken):
            await verifier.verify(token, typ=ACCESS_TOKEN_TYP, audience="cityos")
