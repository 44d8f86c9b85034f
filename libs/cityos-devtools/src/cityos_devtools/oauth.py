"""Signing in through the gateway's OAuth endpoints as a browser would (for the devstack and e2e tests).

The authorization-code flow with PKCE, driven with httpx: the login form (with its CSRF token and the
session cookie), the consent form, the redirect with the code, then the token request; and the refresh grant.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

_FORM = re.compile(r'<form method="post" action="([^"]*)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class LoginError(RuntimeError):
    """The sign-in did not go as a browser expects (wrong password, refused consent, no code)."""


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form on an HTML page."""
    action = _FORM.search(page)
    if action is None:
        raise LoginError(f"no form on the page: {page[:300]!r}")
    hidden = {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}
    return html.unescape(action.group(1)), hidden


def authorization_code(
    http: httpx.Client,
    issuer: str,
    *,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    scope: str,
    challenge: str,
) -> str:
    """Log in (and consent) on the authorize endpoint; the code from the redirect to `redirect_uri`."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{issuer}/oauth2/authorize?{urlencode(params)}"
    page = http.get(url)
    for _ in range(3):  # login page, then maybe the consent page
        if page.status_code != 200:
            break
        action, fields = form_of(page.text)
        if fields.get("action") == "login":
            fields |= {"username": username, "password": password}
        else:
            fields["decision"] = "allow"
        page = http.post(urljoin(url, action), data=fields)
    location = page.headers.get("location", "")
    if page.status_code != 302 or not location.startswith(redirect_uri):
        raise LoginError(
            f"sign-in did not redirect to the client: HTTP {page.status_code} {page.text[:300]!r}"
        )
    query = parse_qs(urlsplit(location).query)
    if "code" not in query:
        raise LoginError(f"the redirect carries no code: {query.get('error', ['?'])[0]}")
    return str(query["code"][0])


@dataclass
class TokenSource:
    """An access token kept fresh with its refresh token (refreshed `margin` seconds before it expires)."""

    issuer: str
    client_id: str
    access_token: str
    refresh_token: str
    expires_at: float
    margin: float = 60.0
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15.0), repr=False)

    def token(self) -> str:
        """A valid access token, refreshed when it is about to expire."""
        if time.time() > self.expires_at - self.margin:
            self.refresh()
        return self.access_token

    def refresh(self) -> None:
        """Redeem the refresh token (it rotates: the new one replaces it)."""
        reply = self._http.post(
            f"{self.issuer}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token,
                "client_id": self.client_id,
            },
        )
        if reply.status_code != 200:
            raise LoginError(f"refresh failed: HTTP {reply.status_code} {reply.text[:300]}")
        self._update(reply.json())

    def _update(self, document: dict[str, object]) -> None:
        self.access_token = str(document["access_token"])
        self.refresh_token = str(document.get("refresh_token") or self.refresh_token)
        self.expires_at = time.time() + float(str(document.get("expires_in", 300)))

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


def user_login(
    issuer: str, *, client_id: str, redirect_uri: str, username: str, password: str, scope: str
) -> TokenSource:
    """Sign a user in with the code flow + PKCE on a public client; a refreshing TokenSource."""
    verifier, challenge = pkce_pair()
    with httpx.Client(timeout=15.0) as browser:
        code = authorization_code(
            browser,
            issuer,
            client_id=client_id,
            redirect_uri=redirect_uri,
            username=username,
            password=password,
            scope=scope,
            challenge=challenge,
        )
        reply = browser.post(
            f"{issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    if reply.status_code != 200:
        raise LoginError(f"token request failed: HTTP {reply.status_code} {reply.text[:300]}")
    document = reply.json()
    source = TokenSource(issuer, client_id, "", "", 0.0)
    source._update(document)
    return source


def client_credentials_token(issuer: str, client_id: str, secret: str, scope: str = "") -> str:
    """An access token for a confidential client (client_credentials grant, HTTP Basic)."""
    data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    reply = httpx.post(f"{issuer}/oauth2/token", data=data, auth=(client_id, secret), timeout=15.0)
    if reply.status_code != 200:
        raise LoginError(f"client_credentials failed: HTTP {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["access_token"])
