"""Demo seeding is idempotent and its credentials work: a backend token and a resident's browser login."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_identity.browser import Browser, authorize, basic, body_json, pkce_pair, token_request
from cityos_identity.demo import seed_demo

pytestmark = pytest.mark.integration
ISSUER = "http://127.0.0.1:8080"


async def test_seed_twice_and_use(env: Any) -> None:
    options = {
        "tenant": env.tenant,
        "issuer": ISSUER,
        "admin_password": "admin-password-for-tests",
        "redirect_uri": "http://127.0.0.1:8765/callback",
    }
    first = await seed_demo(env.stub, resident_password="first demo password", **options)
    second = await seed_demo(env.stub, resident_password="second demo password", **options)
    assert second.public_client_id == first.public_client_id
    assert second.backend_client_id != first.backend_client_id

    browser = Browser(env.stub)
    stale = await token_request(
        browser,
        ISSUER,
        {"grant_type": "client_credentials"},
        basic(first.backend_client_id, first.backend_client_secret),
    )
    assert stale.status == 401
    fresh = await token_request(
        browser,
        ISSUER,
        {"grant_type": "client_credentials"},
        basic(second.backend_client_id, second.backend_client_secret),
    )
    assert fresh.status == 200 and body_json(fresh)["scope"] == "entities:read entities:write subscriptions"

    verifier, challenge = pkce_pair()
    query = await authorize(
        browser,
        ISSUER,
        second.public_client_id,
        second.redirect_uri,
        second.resident_username,
        second.resident_password,
        scope="openid entities:read",
        challenge=challenge,
    )
    token = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": second.redirect_uri,
            "client_id": second.public_client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status == 200 and "refresh_token" in body_json(token)
