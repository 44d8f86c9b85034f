"""Local access-token verification: signature, algorithm, typ, iss, aud, exp / nbf / iat, unknown kid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
import pytest
from cityos_gateway.auth import AuthProblem
from cityos_gateway.security.tokens import AccessTokenVerifier, JwksCache, principal_from_claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def verifier(identity: Any) -> AccessTokenVerifier:
    async def fetch() -> bytes:
        return bytes((await identity.GetJwks(None)).jwks)

    return AccessTokenVerifier(JwksCache(fetch), issuer="https://city.example", audience="cityos", leeway=30)


async def _rejected(verifier: AccessTokenVerifier, token: str) -> AuthProblem:
    with pytest.raises(AuthProblem) as raised:
        await verifier.verify(token)
    problem = raised.value
    assert problem.status == 401
    assert dict(problem.headers)["www-authenticate"].startswith(
        'Bearer realm="cityos", error="invalid_token"'
    )
    assert token not in problem.detail
    return problem


async def test_a_valid_token_gives_its_claims_and_principal(verifier: AccessTokenVerifier, mint: Any) -> None:
    token = mint()
    claims = await verifier.verify(token)
    principal = principal_from_claims(claims, token)
    assert principal.tenants == frozenset({"citya"}) and principal.client_id == "citya.app"
    assert principal.has_scope("entities:read") and not principal.has_scope("admin")
    assert token not in repr(principal), "the token never shows in a repr (and so in logs)"


async def test_platform_admins_may_use_every_tenant(verifier: AccessTokenVerifier, mint: Any) -> None:
    token = mint(roles=["platform-admin", "tenant-admin"])
    assert principal_from_claims(await verifier.verify(token), token).tenants is None


async def test_expired_token(verifier: AccessTokenVerifier, mint: Any) -> None:
    now = int(time.time())
    problem = await _rejected(verifier, mint(iat=now - 600, nbf=now - 600, exp=now - 60))
    assert "expired" in problem.detail


async def test_small_clock_skew_is_tolerated(verifier: AccessTokenVerifier, mint: Any) -> None:
    now = int(time.time())
    assert await verifier.verify(mint(exp=now - 5, nbf=now + 5))


async def test_not_yet_valid_token(verifier: AccessTokenVerifier, mint: Any) -> None:
    problem = await _rejected(verifier, mint(nbf=int(time.time()) + 600))
    assert "not valid yet" in problem.detail


async def test_token_issued_in_the_future(verifier: AccessTokenVerifier, mint: Any) -> None:
    await _rejected(verifier, mint(iat=int(time.time()) + 600))


async def test_wrong_audience(verifier: AccessTokenVerifier, mint: Any) -> None:
    await _rejected(verifier, mint(aud="another-api"))


async def test_wrong_issuer(verifier: AccessTokenVerifier, mint: Any) -> None:
    await _rejected(verifier, mint(iss="https://evil.example"))


async def test_missing_subject_or_id(verifier: AccessTokenVerifier, mint: Any) -> None:
    await _rejected(verifier, mint(sub=None))
    await _rejected(verifier, mint(jti=None))


async def test_id_tokens_are_not_access_tokens(verifier: AccessTokenVerifier, mint: Any) -> None:
    await _rejected(verifier, mint(header={"typ": "JWT"}))


async def test_alg_none_is_rejected(verifier: AccessTokenVerifier, mint: Any) -> None:
    _, payload, _ = mint().split(".")
    header = _b64(orjson.dumps({"alg": "none", "kid": "k1", "typ": "at+jwt"}))
    await _rejected(verifier, f"{header}.{payload}.")


async def test_hs256_signed_with_the_public_key_is_rejected(
    verifier: AccessTokenVerifier, mint: Any, key: Any
) -> None:
    _, payload, _ = mint().split(".")
    header = _b64(orjson.dumps({"alg": "HS256", "kid": "k1", "typ": "at+jwt"}))
    public_pem = key.as_pem(private=False)
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    await _rejected(verifier, f"{header}.{payload}.{_b64(signature)}")


async def test_tampered_claims_are_rejected(verifier: AccessTokenVerifier, mint: Any) -> None:
    header, payload, signature = mint().split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tenants"] = ["cityb"]
    problem = await _rejected(verifier, f"{header}.{_b64(orjson.dumps(claims))}.{signature}")
    assert "signature" in problem.detail


async def test_a_token_signed_by_another_key_with_a_known_kid_is_rejected(
    verifier: AccessTokenVerifier, mint: Any, new_key: Any
) -> None:
    await _rejected(verifier, mint(signing_key=new_key("k1")))


async def test_garbage_is_rejected(verifier: AccessTokenVerifier) -> None:
    for token in ("abc", "a.b.c", "e30.e30.", "!!!.###.$$$"):
        await _rejected(verifier, token)


async def test_unknown_kid_refetches_the_jwks_once(identity: Any, mint: Any, new_key: Any) -> None:
    clock = [1000.0]

    async def fetch() -> bytes:
        return bytes((await identity.GetJwks(None)).jwks)

    cache = JwksCache(fetch, min_interval=10.0, clock=lambda: clock[0])
    verifier = AccessTokenVerifier(cache, issuer="https://city.example", audience="cityos")
    await cache.refresh()
    assert identity.jwks_calls == 1
    rotated = new_key("k2")
    identity.keys.append(rotated)  # the identity service rotated its key
    clock[0] += 11
    assert await verifier.verify(mint(header={"kid": "k2"}, signing_key=rotated))
    assert identity.jwks_calls == 2 and cache.kids == {"k1", "k2"}
    # Unknown kids again: at most one refetch per interval, whatever an attacker sends.
    for n in range(5):
        await _rejected(verifier, mint(header={"kid": f"nope-{n}"}))
    assert identity.jwks_calls == 2
    clock[0] += 11
    await _rejected(verifier, mint(header={"kid": "nope-x"}))
    assert identity.jwks_calls == 3


async def test_a_verified_token_is_remembered_until_it_expires(
    verifier: AccessTokenVerifier, mint: Any
) -> None:
    now = [time.time()]
    verifier._now = lambda: now[0]  # a fixed clock for this test
    token = mint(exp=int(now[0]) + 60)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first, "the second check skips the signature"
    now[0] += 120
    problem = await _rejected(verifier, token)
    assert "expired" in problem.detail
