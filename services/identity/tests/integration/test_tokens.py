"""client_credentials, introspection (RFC 7662), revocation (RFC 7009), discovery, JWKS and key rotation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.browser import Browser, basic, bearer, body_json, header, problem, token_request
from joserfc import jwt
from joserfc.jwk import KeySet

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]
ISSUER = "http://127.0.0.1:8080"


async def _backend(env: Any, tenant: str) -> tuple[str, str]:
    return await env.client(  # type: ignore[no-any-return]
        tenant,
        confidential=True,
        grant_types=["client_credentials"],
        scopes=["entities:read", "entities:write"],
        roles=["developer"],
    )


async def _client_token(browser: Browser, client_id: str, secret: str, scope: str = "") -> dict[str, Any]:
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = await token_request(browser, ISSUER, form, basic(client_id, secret))
    assert response.status == 200, response.body
    return body_json(response)  # type: ignore[no-any-return]


async def test_client_credentials_introspection_and_revocation(env: Any) -> None:
    browser = Browser(env.stub)
    client_id, secret = await _backend(env, env.tenant)
    token = await _client_token(browser, client_id, secret)
    assert "refresh_token" not in token and token["scope"] == "entities:read entities:write"
    narrowed = await _client_token(browser, client_id, secret, "entities:read")
    assert narrowed["scope"] == "entities:read"

    wrong = await token_request(
        browser, ISSUER, {"grant_type": "client_credentials"}, basic(client_id, "nope")
    )
    assert wrong.status == 401 and body_json(wrong)["error"] == "invalid_client"
    too_wide = await token_request(
        browser, ISSUER, {"grant_type": "client_credentials", "scope": "admin"}, basic(client_id, secret)
    )
    assert too_wide.status == 400 and body_json(too_wide)["error"] == "invalid_scope"

    claims = jwt.decode(
        token["access_token"],
        KeySet.import_key_set(orjson.loads((await env.stub.GetJwks(pb.GetJwksRequest())).jwks)),
        algorithms=["ES256"],
    ).claims
    assert claims["sub"] == client_id and claims["roles"] == ["developer"] and claims["tenant"] == env.tenant

    active = await browser.request(
        "POST", f"{ISSUER}/oauth2/introspect", {"token": token["access_token"]}, basic(client_id, secret)
    )
    assert active.status == 200
    info = body_json(active)
    assert info["active"] is True and info["client_id"] == client_id and info["jti"] == claims["jti"]
    assert info["tenant"] == env.tenant

    # Another tenant's client cannot introspect this token (it looks inactive to it).
    town = await env.municipality(f"{env.tenant}-other")
    other_id, other_secret = await _backend(env, town)
    foreign = await browser.request(
        "POST", f"{ISSUER}/oauth2/introspect", {"token": token["access_token"]}, basic(other_id, other_secret)
    )
    assert body_json(foreign) == {"active": False}

    revoked = await browser.request(
        "POST", f"{ISSUER}/oauth2/revoke", {"token": token["access_token"]}, basic(client_id, secret)
    )
    assert revoked.status == 200
    inactive = await browser.request(
        "POST", f"{ISSUER}/oauth2/introspect", {"token": token["access_token"]}, basic(client_id, secret)
    )
    assert body_json(inactive) == {"active": False}
    listed = await env.stub.ListRevokedTokens(pb.ListRevokedTokensRequest(since=0))
    assert claims["jti"] in {t.jti for t in listed.tokens} and listed.as_of > 0
    # A revoked token can no longer authenticate a management call either.
    failure = await problem(
        env.stub.ListTenants(pb.ListTenantsRequest(), metadata=bearer(token["access_token"]))
    )
    assert failure.status == 401

    garbage = await browser.request(
        "POST", f"{ISSUER}/oauth2/introspect", {"token": "not.a.token"}, basic(client_id, secret)
    )
    assert body_json(garbage) == {"active": False}


async def test_discovery_and_jwks(env: Any) -> None:
    browser = Browser(env.stub)
    discovery = await browser.request("GET", f"{ISSUER}/.well-known/openid-configuration")
    assert discovery.status == 200
    doc = body_json(discovery)
    assert doc["issuer"] == ISSUER and doc["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    oauth_meta = await browser.request("GET", f"{ISSUER}/.well-known/oauth-authorization-server")
    assert body_json(oauth_meta) == doc
    jwks = await browser.request("GET", f"{ISSUER}/oauth2/jwks")
    keys = body_json(jwks)["keys"]
    assert keys and all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in keys)
    assert body_json(jwks) == orjson.loads((await env.stub.GetJwks(pb.GetJwksRequest())).jwks)
    missing = await browser.request("GET", f"{ISSUER}/oauth2/nothing")
    assert missing.status == 404
    wrong_method = await browser.request("GET", f"{ISSUER}/oauth2/token")
    assert wrong_method.status == 405


async def test_rotation_keeps_old_keys_published(env: Any) -> None:
    browser = Browser(env.stub)
    client_id, secret = await _backend(env, env.tenant)
    before = await _client_token(browser, client_id, secret)
    old_kid = jwt.decode(
        before["access_token"],
        KeySet.import_key_set(orjson.loads((await env.stub.GetJwks(pb.GetJwksRequest())).jwks)),
        algorithms=["ES256"],
    ).header["kid"]

    forbidden = await problem(
        env.stub.RotateSigningKey(pb.RotateSigningKeyRequest(), metadata=bearer(before["access_token"]))
    )
    assert forbidden.status == 403
    rotated = await env.stub.RotateSigningKey(pb.RotateSigningKeyRequest(), metadata=env.admin_md)
    assert rotated.kid != old_kid and old_kid in rotated.retained_kids

    jwks = KeySet.import_key_set(orjson.loads((await env.stub.GetJwks(pb.GetJwksRequest())).jwks))
    assert {k.kid for k in jwks.keys} >= {old_kid, rotated.kid}
    jwt.decode(before["access_token"], jwks, algorithms=["ES256"])  # still verifiable
    after = await _client_token(browser, client_id, secret)
    assert jwt.decode(after["access_token"], jwks, algorithms=["ES256"]).header["kid"] == rotated.kid


async def test_malformed_requests_get_oauth_errors(env: Any) -> None:
    browser = Browser(env.stub)
    huge = await browser.request("POST", f"{ISSUER}/oauth2/token", {"grant_type": "x" * 70_000})
    assert huge.status == 400 and body_json(huge)["error"] == "invalid_request"
    unknown = await token_request(
        browser, ISSUER, {"grant_type": "password", "username": "a", "password": "b"}
    )
    assert unknown.status == 400 and body_json(unknown)["error"] == "unsupported_grant_type"
    no_form = await browser.request(
        "POST", f"{ISSUER}/oauth2/token", headers={"Content-Type": "application/json"}
    )
    assert no_form.status == 400
    no_client = await token_request(browser, ISSUER, {"grant_type": "client_credentials"})
    assert no_client.status == 401 and body_json(no_client)["error"] == "invalid_client"
    userinfo = await browser.request("GET", f"{ISSUER}/oauth2/userinfo")
    assert userinfo.status == 401 and header(userinfo, "WWW-Authenticate") == 'Bearer realm="cityos"'
    bad_client = await browser.request(
        "GET", f"{ISSUER}/oauth2/authorize?response_type=code&client_id=nope.x"
    )
    assert bad_client.status == 400 and b"Cannot sign in" in bad_client.body
