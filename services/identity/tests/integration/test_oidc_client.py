"""authlib's own OAuth 2.0 client (httpx) completes discovery, the code flow with PKCE, and refresh,
talking to HandleOAuthRequest through an httpx transport that stands in for the gateway."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.browser import Browser, form_fields, header
from joserfc import jwt
from joserfc.jwk import KeySet

pytestmark = pytest.mark.integration
ISSUER = "http://127.0.0.1:8080"
REDIRECT = "http://127.0.0.1:9999/callback"
PASSWORD = "a long enough password"


class GatewayTransport(httpx.AsyncBaseTransport):
    """Forwards each HTTP request to HandleOAuthRequest, as the gateway does."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self._stub.HandleOAuthRequest(
            pb.HttpRequest(
                method=request.method,
                path=request.url.path,
                query=request.url.query.decode(),
                headers=[pb.HttpHeader(name=k, value=v) for k, v in request.headers.multi_items()],
                body=body,
            )
        )
        return httpx.Response(
            response.status, headers=[(h.name, h.value) for h in response.headers], content=response.body
        )


async def test_authlib_client_discovery_code_pkce_and_refresh(env: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # authlib prefers httpx2 but supports httpx
        from authlib.common.security import generate_token
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    username = f"oidc-{env.tenant}"
    await env.resident(env.tenant, username, PASSWORD)
    client_id, _ = await env.client(
        env.tenant,
        confidential=False,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["openid", "profile", "entities:read"],
    )
    transport = GatewayTransport(env.stub)
    async with AsyncOAuth2Client(
        client_id=client_id,
        redirect_uri=REDIRECT,
        scope="openid profile entities:read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        transport=transport,
    ) as client:
        meta = (
            await client.request("GET", f"{ISSUER}/.well-known/openid-configuration", withhold_token=True)
        ).json()
        verifier = generate_token(48)
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce="nonce-1"
        )

        browser = Browser(env.stub)  # the user's browser: login and consent pages
        page = await browser.request("GET", url)
        action, hidden = form_fields(page.body)
        page = await browser.request(
            "POST", ISSUER + action, {**hidden, "username": username, "password": PASSWORD}
        )
        action, hidden = form_fields(page.body)
        page = await browser.request("POST", ISSUER + action, {**hidden, "decision": "allow"})
        callback = header(page, "Location")
        assert callback.startswith(REDIRECT)

        token = await client.fetch_token(
            meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
        )
        jwks = KeySet.import_key_set(
            (await client.request("GET", meta["jwks_uri"], withhold_token=True)).json()
        )
        id_token = jwt.decode(token["id_token"], jwks, algorithms=["ES256"]).claims
        assert id_token["iss"] == ISSUER and id_token["aud"] == client_id and id_token["nonce"] == "nonce-1"

        refreshed = await client.refresh_token(meta["token_endpoint"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        access = jwt.decode(refreshed["access_token"], jwks, algorithms=["ES256"]).claims
        assert access["sub"] == id_token["sub"] and access["scope"] == "openid profile entities:read"

        info = await client.get(meta["userinfo_endpoint"])
        assert info.status_code == 200 and info.json()["preferred_username"] == username
