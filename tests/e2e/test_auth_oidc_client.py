"""A real OIDC client library (authlib's httpx OAuth2Client) against the running stack: discovery, the
authorization-code flow with PKCE through the login and consent pages, the API with the token, refresh
(rotation), and refresh-token reuse revoking the family. Plus Debian's chromium on the login page, when
installed."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from cityos_devtools.oauth import form_of

with warnings.catch_warnings():
    # authlib 1.9 announces a move to the "httpx2" package on import; the httpx client is what we test.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the test reads the code from the redirect
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def resident(admin_api: httpx.Client, onboard: Callable[..., Any]) -> dict[str, str]:
    """A tenant with a public app (code + PKCE) and a staff user of it."""
    town = onboard("oidc")
    app = admin_api.post(
        f"/tenants/{town.tenant}/clients",
        json={
            "name": "city app",
            "confidential": False,
            "redirectUris": [REDIRECT_URI],
            "grantTypes": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "offline_access", "entities:read"],
        },
    )
    assert app.status_code == 201, app.text
    username, password = f"staff-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    user = admin_api.post(
        f"/tenants/{town.tenant}/users",
        json={
            "username": username,
            "password": password,
            "memberships": [{"tenant": town.tenant, "roles": ["developer"]}],
        },
    )
    assert user.status_code == 201, user.text
    return {
        "tenant": town.tenant,
        "client_id": app.json()["client"]["clientId"],
        "username": username,
        "password": password,
    }


def _sign_in(authorize_url: str, username: str, password: str) -> str:
    """Drive the login and consent pages like a browser (cookies, CSRF token); the redirect's URL."""
    with httpx.Client(timeout=15.0, follow_redirects=False) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        action, fields = form_of(page.text)
        assert fields.get("csrf_token"), "the login form carries a CSRF token"
        page = browser.post(
            urljoin(authorize_url, action), data={**fields, "username": username, "password": password}
        )
        if page.status_code == 200:  # the consent page
            action, fields = form_of(page.text)
            page = browser.post(urljoin(authorize_url, action), data={**fields, "decision": "allow"})
        assert page.status_code == 302, page.text
        return page.headers["location"]


def test_discovery_code_flow_with_pkce_api_call_and_refresh(stack: Any, resident: dict[str, str]) -> None:
    discovery = httpx.get(f"{stack.gateway_url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == stack.gateway_url
    assert "S256" in discovery["code_challenge_methods_supported"]
    oauth = OAuth2Client(
        client_id=resident["client_id"],
        redirect_uri=REDIRECT_URI,
        scope="openid profile offline_access entities:read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(16)
    )
    location = _sign_in(url, resident["username"], resident["password"])
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = oauth.fetch_token(
        discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer" and token.get("refresh_token") and token.get("id_token")

    api = f"{stack.gateway_url}/ngsi-ld/v1/entities"
    listed = oauth.get(api, params={"type": "WaterLevelGauge"}, headers={"NGSILD-Tenant": resident["tenant"]})
    assert listed.status_code == 200, listed.text
    userinfo = oauth.get(discovery["userinfo_endpoint"])
    assert userinfo.status_code == 200 and userinfo.json()["sub"]

    first_refresh = token["refresh_token"]
    refreshed = oauth.refresh_token(discovery["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != first_refresh, "refresh tokens rotate on use"
    again = oauth.get(api, params={"type": "WaterLevelGauge"}, headers={"NGSILD-Tenant": resident["tenant"]})
    assert again.status_code == 200, again.text

    # Reusing the spent refresh token revokes the whole family, including the current access token.
    reuse = httpx.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": first_refresh,
            "client_id": resident["client_id"],
        },
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    deadline = time.monotonic() + 15
    while (
        after := oauth.get(api, params={"type": "X"}, headers={"NGSILD-Tenant": resident["tenant"]})
    ).status_code == 200:
        assert time.monotonic() < deadline, "the family's access token is still accepted"
        time.sleep(0.5)
    assert after.status_code == 401


def test_wrong_password_stays_on_the_login_page(stack: Any, resident: dict[str, str]) -> None:
    oauth = OAuth2Client(
        client_id=resident["client_id"],
        redirect_uri=REDIRECT_URI,
        scope="openid",
        code_challenge_method="S256",
    )
    url, _ = oauth.create_authorization_url(
        f"{stack.gateway_url}/oauth2/authorize", code_verifier=generate_token(48)
    )
    with httpx.Client(timeout=15.0) as browser:
        page = browser.get(url)
        action, fields = form_of(page.text)
        failed = browser.post(
            urljoin(url, action),
            data={**fields, "username": resident["username"], "password": "wrong-password"},
        )
    assert "location" not in failed.headers, "no code for a wrong password"
    assert 'value="login"' in failed.text, "the login form is shown again"


@pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is not installed (Debian package chromium)"
)
def test_headless_chromium_renders_the_login_page(stack: Any, resident: dict[str, str]) -> None:
    oauth = OAuth2Client(
        client_id=resident["client_id"],
        redirect_uri=REDIRECT_URI,
        scope="openid",
        code_challenge_method="S256",
    )
    url, _ = oauth.create_authorization_url(
        f"{stack.gateway_url}/oauth2/authorize", code_verifier=generate_token(48)
    )
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'name="username"' in done.stdout and 'name="csrf_token"' in done.stdout


def test_repeated_wrong_passwords_lock_the_account(stack: Any, resident: dict[str, str]) -> None:
    oauth = OAuth2Client(
        client_id=resident["client_id"],
        redirect_uri=REDIRECT_URI,
        scope="openid",
        code_challenge_method="S256",
    )
    url, _ = oauth.create_authorization_url(
        f"{stack.gateway_url}/oauth2/authorize", code_verifier=generate_token(48)
    )

    def attempt(password: str) -> httpx.Response:
        with httpx.Client(timeout=15.0) as browser:
            action, fields = form_of(browser.get(url).text)
            return browser.post(
                urljoin(url, action), data={**fields, "username": resident["username"], "password": password}
            )

    before = attempt(resident["password"])  # the right password passes the login form before the lockout
    assert before.status_code == 302 or 'value="consent"' in before.text, before.text
    for _ in range(5):  # IDENTITY_LOCKOUT_THRESHOLD
        assert "location" not in attempt("wrong-password").headers
    locked = attempt(resident["password"])
    assert "location" not in locked.headers, "the right password is refused while the account is locked"
    assert 'value="login"' in locked.text and 'value="consent"' not in locked.text, "still the login form"
