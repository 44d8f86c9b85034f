"""End-to-end fixtures: the whole stack started as a user starts it, and HTTP clients for its API.

`stack` runs `python -m cityos_devtools run --gateway-port 0 --auth oidc` with embedded Valkey and S3 in a
temporary data folder (once per session); Ctrl-C (SIGINT) at the end must stop it cleanly with exit code 0.

The gateway enforces tokens. The NGSI-LD tests use a fresh tenant per test, which no ordinary client's
token could name in advance, so they act as a platform admin (whose token may use every tenant, as the
operator's tooling does): `client` talks to a small local proxy that adds the admin's bearer token
(kept fresh with the refresh grant) to every request and forwards it unchanged to the gateway. Test modules
derive their own clients from `client.base_url` (most take `tenant_client`, bound to a fresh tenant), so they
all go through it; `problem` checks a ProblemDetails answer. Tests of authentication itself (`test_auth*.py`,
`test_tenant_isolation.py`) talk to `stack.gateway_url` directly with their own tokens.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cityos_devtools.access_seed import admin_login
from cityos_devtools.launcher import LaunchedStack, StackStartError
from cityos_devtools.oauth import TokenSource, client_credentials_token

_HERE = Path(__file__).parent
_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "host", "authorization"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, so `-m e2e` / `-m "not e2e"` select them."""
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    """The running City OS (attributes: gateway_url, data_dir, ready, output())."""
    launched = LaunchedStack(tmp_path_factory.mktemp("cityos-e2e"), auth="oidc")
    try:
        launched.start()
    except StackStartError as exc:
        pytest.fail(f"the City OS stack did not start:\n{exc}", pytrace=False)
    yield launched
    code = launched.interrupt()
    assert code == 0, f"cityos-dev exited with {code} after Ctrl-C\n{launched.diagnostics()}"


@pytest.fixture(scope="session")
def admin_tokens(stack: LaunchedStack) -> Iterator[TokenSource]:
    """The bootstrap platform admin's tokens (code flow + PKCE; refreshed before they expire)."""
    password = Path(stack.ready["admin_password_file"]).read_text().strip()
    tokens = admin_login(stack.gateway_url, "default", password)
    yield tokens
    tokens.close()


class _AuthProxy(ThreadingHTTPServer):
    """Forwards every request to the gateway with the platform admin's bearer token added."""

    daemon_threads = True

    def __init__(self, gateway_url: str, tokens: TokenSource) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.gateway_url = gateway_url
        self.tokens = tokens
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=30.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _AuthProxy

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            token = self.server.tokens.token()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        headers.append(("Authorization", f"Bearer {token}"))
        reply = self.server.http.request(
            self.command, self.server.gateway_url + self.path, headers=headers, content=body
        )
        self.send_response_only(reply.status_code)
        for name, value in reply.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the gateway writes the access log."""


@pytest.fixture(scope="session")
def admin_url(stack: LaunchedStack, admin_tokens: TokenSource) -> Iterator[str]:
    """The base URL of a proxy that acts on the gateway as the platform admin."""
    proxy = _AuthProxy(stack.gateway_url, admin_tokens)
    thread = threading.Thread(target=proxy.serve_forever, name="e2e-auth-proxy", daemon=True)
    thread.start()
    yield proxy.url
    proxy.shutdown()
    proxy.server_close()
    proxy.http.close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def client(admin_url: str) -> Iterator[httpx.Client]:
    """An HTTP client for the NGSI-LD API (base URL <gateway>/ngsi-ld/v1) acting as the platform admin."""
    with httpx.Client(base_url=admin_url + "/ngsi-ld/v1", timeout=10.0) as http:
        yield http


@pytest.fixture
def tenant_client(client: httpx.Client) -> Iterator[httpx.Client]:
    """An HTTP client bound to a tenant of its own (`e2e-<12 hex>`), so no other test sees its data."""
    headers = {"NGSILD-Tenant": f"e2e-{uuid.uuid4().hex[:12]}"}
    with httpx.Client(base_url=client.base_url, headers=headers, timeout=15.0) as own:
        yield own


def assert_problem(
    response: httpx.Response, status: int, *kinds: str, titled: bool = False
) -> dict[str, Any]:
    """Check that the response is a ProblemDetails of one of the NGSI-LD error kinds, with that status.

    `titled` also requires a non-empty string `title`. Returns the problem document for further checks.
    """
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"] in {_ERRORS + kind for kind in kinds}, problem
    assert problem["status"] == status, problem
    if titled:
        assert isinstance(problem["title"], str), problem
        assert problem["title"], problem
    return problem


@pytest.fixture
def problem() -> Callable[..., dict[str, Any]]:
    """`assert_problem` as a fixture, since test modules cannot import from conftest."""
    return assert_problem


class _Bearer(httpx.Auth):
    """Adds the current access token of a TokenSource to every request."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._tokens.token()}"
        yield request


@pytest.fixture(scope="session")
def admin_api(stack: LaunchedStack, admin_tokens: TokenSource) -> Iterator[httpx.Client]:
    """The management API (`<gateway>/admin/v1`) as the platform admin."""
    with httpx.Client(
        base_url=stack.gateway_url + "/admin/v1", auth=_Bearer(admin_tokens), timeout=15.0
    ) as http:
        yield http


@dataclass(frozen=True)
class Town:
    """A municipality onboarded for one test: its tenant and a confidential backend client of it."""

    tenant: str
    client_id: str
    secret: str
    token: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        """Bearer + NGSILD-Tenant headers (its own token unless another is given)."""
        return {"Authorization": f"Bearer {token or self.token}", "NGSILD-Tenant": self.tenant}


@pytest.fixture
def onboard(stack: LaunchedStack, admin_api: httpx.Client) -> Callable[..., Town]:
    """Create a fresh tenant and a client_credentials client in it (as the prefecture's tooling would)."""

    def create(prefix: str = "town", scopes: str = "entities:read entities:write subscriptions") -> Town:
        tenant = f"{prefix}-{uuid.uuid4().hex[:10]}"
        created = admin_api.post("/tenants", json={"name": tenant, "displayName": tenant})
        assert created.status_code == 201, created.text
        client = admin_api.post(
            f"/tenants/{tenant}/clients",
            json={
                "name": "backend",
                "confidential": True,
                "grantTypes": ["client_credentials"],
                "scopes": scopes.split(),
                "roles": ["developer"],
            },
        )
        assert client.status_code == 201, client.text
        client_id, secret = client.json()["client"]["clientId"], client.json()["clientSecret"]
        token = client_credentials_token(stack.gateway_url, client_id, secret)
        return Town(tenant, client_id, secret, token)

    return create
