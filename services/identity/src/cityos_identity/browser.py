"""A scripted browser for `HandleOAuthRequest`: keeps cookies, fills the login and consent forms, runs the
authorization-code flow with PKCE. Used by the tests, the demo seeding and the gateway's tests."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import grpc
import orjson
from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError, problem_from_rpc_error


class FlowError(Exception):
    """The scripted flow did not go as a browser would expect (wrong password, refused consent, ...)."""


@dataclass
class Browser:
    """Drives HandleOAuthRequest like a browser: keeps cookies, follows nothing automatically."""

    stub: Any
    cookies: dict[str, str] = field(default_factory=dict)

    async def request(
        self, method: str, url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> pb.HttpResponse:
        parts = urlsplit(url)
        hdrs = [pb.HttpHeader(name=k, value=v) for k, v in (headers or {}).items()]
        if self.cookies:
            hdrs.append(
                pb.HttpHeader(name="Cookie", value="; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            )
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            hdrs.append(pb.HttpHeader(name="Content-Type", value="application/x-www-form-urlencoded"))
        response: pb.HttpResponse = await self.stub.HandleOAuthRequest(
            pb.HttpRequest(method=method, path=parts.path, query=parts.query, headers=hdrs, body=body)
        )
        for header in response.headers:
            if header.name.lower() == "set-cookie":
                name, _, rest = header.value.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in header.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return response


def header(response: pb.HttpResponse, name: str) -> str:
    return next((h.value for h in response.headers if h.name.lower() == name.lower()), "")


def body_json(response: pb.HttpResponse) -> Any:
    return orjson.loads(response.body)


def form_fields(page: bytes) -> tuple[str, dict[str, str]]:
    """The form's action and hidden fields of an HTML page."""
    text = page.decode()
    action = re.search(r'<form method="post" action="([^"]*)"', text)
    if not action:
        raise FlowError(f"no form on the page: {text[:300]!r}")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text))
    return action.group(1).replace("&amp;", "&"), hidden


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def authorize(
    browser: Browser,
    issuer: str,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    *,
    scope: str,
    challenge: str | None = None,
    state: str = "st-1",
    nonce: str = "n-1",
) -> dict[str, list[str]]:
    """Run the browser part of the code flow (login + consent); returns the redirect's query parameters."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = await browser.request("GET", f"{issuer}/oauth2/authorize?{urlencode(params)}")
    if page.status == 200 and b'name="action" value="login"' in page.body:
        action, hidden = form_fields(page.body)
        page = await browser.request(
            "POST", issuer + action, {**hidden, "username": username, "password": password}
        )
    if page.status == 200 and b'value="consent"' in page.body:
        action, hidden = form_fields(page.body)
        page = await browser.request("POST", issuer + action, {**hidden, "decision": "allow"})
    if page.status != 302:
        raise FlowError(f"authorization did not redirect: {page.status} {page.body[:300]!r}")
    location = urlsplit(header(page, "Location"))
    if f"{location.scheme}://{location.netloc}{location.path}" != redirect_uri:
        raise FlowError(f"redirected elsewhere: {location.geturl()[:300]}")
    return parse_qs(location.query)


async def token_request(
    browser: Browser, issuer: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> pb.HttpResponse:
    return await browser.request("POST", f"{issuer}/oauth2/token", form, headers)


async def admin_token(stub: Any, tenant: str, issuer: str, password: str) -> str:
    """An access token of the bootstrap platform admin through the console client (code + PKCE)."""
    browser = Browser(stub)
    verifier, challenge = pkce_pair()
    redirect_uri = f"{issuer}/console/callback"
    query = await authorize(
        browser,
        issuer,
        f"{tenant}.console",
        redirect_uri,
        "admin",
        password,
        scope="openid admin entities:read",
        challenge=challenge,
    )
    response = await token_request(
        browser,
        issuer,
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": f"{tenant}.console",
            "code_verifier": verifier,
        },
    )
    if response.status != 200:
        raise FlowError(f"token request failed: {response.status} {response.body[:300]!r}")
    return str(body_json(response)["access_token"])


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def problem(call: Any) -> ProblemError:
    """The ProblemDetails of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return problem_from_rpc_error(error)
    raise AssertionError("the call unexpectedly succeeded")
