"""Authorization code + PKCE through HandleOAuthRequest: login with CSRF, consent, tokens, refresh
rotation with reuse detection, ID token, userinfo, logout; JWTs verified with the JWKS from GetJwks."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.browser import (
    Browser,
    authorize,
    body_json,
    form_fields,
    header,
    pkce_pair,
    token_request,
)
from joserfc import jwt
from joserfc.jwk import KeySet

pytestmark = pytest.mark.integration
REDIRECT = "https://app.example.jp/callback"
PASSWORD = "correct horse battery staple"
ISSUER = "http://127.0.0.1:8080"
Env = Any


async def _jwks(env: Env) -> KeySet:
    return KeySet.import_key_set(orjson.loads((await env.stub.GetJwks(pb.GetJwksRequest())).jwks))


async def _public_client(env: Env, tenant: str) -> str:
    client_id, secret = await env.client(
        tenant,
        confidential=False,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["openid", "profile", "email", "entities:read"],
    )
    assert secret == ""
    return client_id


async def test_code_flow_with_pkce_refresh_rotation_and_reuse_detection(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    town = await env.municipality(f"{env.tenant}-town")
    sub = await env.resident(town, f"hanako-{town}", PASSWORD)
    client_id = await _public_client(env, town)
    browser = Browser(env.stub)
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile entities:read",
        "state": "xyz",
        "nonce": "n-0S6",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    # The login page carries a CSRF token bound to a cookie; a post without it is refused.
    page = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(params)}")
    assert page.status == 200 and b'name="password"' in page.body
    assert "frame-ancestors 'none'" in header(page, "Content-Security-Policy")
    action, hidden = form_fields(page.body)
    forged = await browser.request(
        "POST", ISSUER + action, {"action": "login", "csrf_token": "forged", "username": "x", "password": "y"}
    )
    assert forged.status == 401 and b"expired" in forged.body
    action, hidden = form_fields(forged.body)
    assert hidden["csrf_token"] != "forged"
    wrong = await browser.request(
        "POST", ISSUER + action, {**hidden, "username": f"hanako-{town}", "password": "nope"}
    )
    assert wrong.status == 401 and b"Wrong username or password" in wrong.body
    action, hidden = form_fields(wrong.body)
    consent = await browser.request(
        "POST", ISSUER + action, {**hidden, "username": f"hanako-{town}", "password": PASSWORD}
    )
    assert consent.status == 200 and b"Allow access" in consent.body and b"entities:read" in consent.body
    assert "cityos_session" in browser.cookies
    session_cookie = next(h.value for h in consent.headers if h.value.startswith("cityos_session="))
    assert (
        "Path=/oauth2;" in session_cookie
        and "HttpOnly" in session_cookie
        and "SameSite=Lax" in session_cookie
    )
    action, hidden = form_fields(consent.body)
    redirected = await browser.request("POST", ISSUER + action, {**hidden, "decision": "allow"})
    assert redirected.status == 302
    location = header(redirected, "Location")
    assert location.startswith(REDIRECT + "?code=") and "state=xyz" in location
    code = location.split("code=")[1].split("&")[0]

    # Wrong verifier fails and burns the code; a fresh code with the right verifier succeeds.
    bad = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": pkce_pair()[0],
        },
    )
    assert bad.status == 400 and body_json(bad)["error"] == "invalid_grant"
    query = await authorize(
        browser,
        ISSUER,
        client_id,
        REDIRECT,
        "",
        "",
        scope="openid profile entities:read",
        challenge=challenge,
        nonce="n-0S6",
    )  # session and remembered consent: no pages this time
    response = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert response.status == 200, response.body
    assert header(response, "Cache-Control") == "no-store"
    tokens = body_json(response)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    replay = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert replay.status == 400 and body_json(replay)["error"] == "invalid_grant"

    # The access token is an RFC 9068 JWT verifiable with the JWKS from GetJwks.
    keys = await _jwks(env)
    access = jwt.decode(tokens["access_token"], keys, algorithms=["ES256"])
    assert access.header["typ"] == "at+jwt" and access.header["alg"] == "ES256" and access.header["kid"]
    claims = access.claims
    now = time.time()
    assert claims["iss"] == ISSUER and claims["aud"] == "cityos" and claims["sub"] == sub
    assert claims["client_id"] == client_id and claims["tenant"] == town and claims["tenants"] == [town]
    assert claims["roles"] == ["resident"] and claims["scope"] == "openid profile entities:read"
    assert claims["nbf"] <= now < claims["exp"] == claims["iat"] + 900 and claims["jti"]
    id_token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256"]).claims
    assert id_token["aud"] == client_id and id_token["nonce"] == "n-0S6" and id_token["sub"] == sub
    assert id_token["preferred_username"] == f"hanako-{town}" and id_token["at_hash"]

    userinfo = await browser.request(
        "GET", f"{ISSUER}/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status == 200 and body_json(userinfo)["sub"] == sub

    # Refresh rotates; presenting the used token again revokes the whole family and its access tokens.
    first_refresh = tokens["refresh_token"]
    rotated = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "refresh_token",
            "refresh_token": first_refresh,
            "client_id": client_id,
        },
    )
    assert rotated.status == 200, rotated.body
    second = body_json(rotated)
    assert second["refresh_token"] != first_refresh
    second_claims = jwt.decode(second["access_token"], keys, algorithms=["ES256"]).claims
    assert second_claims["sub"] == sub and second_claims["jti"] != claims["jti"]
    reuse = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "refresh_token",
            "refresh_token": first_refresh,
            "client_id": client_id,
        },
    )
    assert reuse.status == 400 and body_json(reuse)["error"] == "invalid_grant"
    after_reuse = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "refresh_token",
            "refresh_token": second["refresh_token"],
            "client_id": client_id,
        },
    )
    assert after_reuse.status == 400 and body_json(after_reuse)["error"] == "invalid_grant"
    revoked = await env.stub.ListRevokedTokens(pb.ListRevokedTokensRequest(since=0))
    revoked_jtis = {t.jti for t in revoked.tokens}
    assert {claims["jti"], second_claims["jti"]} <= revoked_jtis
    denied = await browser.request(
        "GET", f"{ISSUER}/oauth2/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert denied.status == 401 and 'error="invalid_token"' in header(denied, "WWW-Authenticate")

    # Logout ends the browser session: the next authorization shows the login page again.
    logout = await browser.request("GET", f"{ISSUER}/oauth2/logout")
    assert logout.status == 200 and "cityos_session" not in browser.cookies
    again = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(params)}")
    assert again.status == 200 and b'name="password"' in again.body

    # Nothing secret reached any log record, at any level.
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "login failed" in logged  # the failed attempt above was logged ...
    secrets = [PASSWORD, tokens["access_token"], tokens["refresh_token"], second["refresh_token"], code]
    assert not [s for s in secrets if s in logged]  # ... without any credential


async def test_public_client_must_use_pkce_s256(env: Env) -> None:
    client_id = await _public_client(env, env.tenant)
    browser = Browser(env.stub)
    base = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "s",
    }
    missing = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(base)}")
    assert missing.status == 302 and "error=invalid_request" in header(missing, "Location")
    plain = {**base, "code_challenge": "a" * 43, "code_challenge_method": "plain"}
    refused = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(plain)}")
    assert refused.status == 302 and "error=invalid_request" in header(refused, "Location")
    # An unregistered redirect URI is never redirected to.
    evil = {
        **base,
        "redirect_uri": "https://evil.example/cb",
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    page = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(evil)}")
    assert page.status == 400 and not header(page, "Location")


async def test_consent_denied_redirects_with_access_denied(env: Env) -> None:
    await env.resident(env.tenant, f"taro-{env.tenant}", PASSWORD)
    client_id = await _public_client(env, env.tenant)
    browser = Browser(env.stub)
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(params)}")
    action, hidden = form_fields(page.body)
    page = await browser.request(
        "POST", ISSUER + action, {**hidden, "username": f"taro-{env.tenant}", "password": PASSWORD}
    )
    action, hidden = form_fields(page.body)
    denied = await browser.request("POST", ISSUER + action, {**hidden, "decision": "deny"})
    assert denied.status == 302 and "error=access_denied" in header(denied, "Location")
    assert "state=s1" in header(denied, "Location")


async def test_tenants_claim_only_carries_staff_roles_across_tenants(env: Env) -> None:
    town = await env.municipality(f"{env.tenant}-kita")
    await env.resident(town, f"res-{town}", PASSWORD)
    await env.resident(town, f"dev-{town}", PASSWORD, roles=("developer",))
    prefecture_app = await _public_client(env, env.tenant)
    keys = await _jwks(env)
    for username, expected in ((f"res-{town}", [env.tenant]), (f"dev-{town}", sorted([env.tenant, town]))):
        browser = Browser(env.stub)
        verifier, challenge = pkce_pair()
        query = await authorize(
            browser,
            ISSUER,
            prefecture_app,
            REDIRECT,
            username,
            PASSWORD,
            scope="openid entities:read",
            challenge=challenge,
        )
        response = await token_request(
            browser,
            ISSUER,
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "client_id": prefecture_app,
                "code_verifier": verifier,
            },
        )
        claims = jwt.decode(body_json(response)["access_token"], keys, algorithms=["ES256"]).claims
        assert claims["tenant"] == env.tenant and claims["tenants"] == expected and claims["roles"] == []
