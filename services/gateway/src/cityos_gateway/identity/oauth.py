"""The OAuth 2.0 / OIDC HTTP endpoints, forwarded as they are to the identity service's HandleOAuthRequest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityos.identity.v1 import identity_pb2 as ipb

from cityos_gateway.http import Request, Response
from cityos_gateway.router import Handler

if TYPE_CHECKING:
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

# The paths the identity service's discovery document announces (relative to the issuer = this gateway).
OAUTH_PATHS = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/oauth2/jwks",
    "/oauth2/authorize",
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/oauth2/userinfo",
    "/oauth2/logout",
)
MAX_FORM_BYTES = 64 * 1024  # the identity service's own limit on form bodies
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
)


class OAuthRoutes:
    """Every OAuth path, GET and POST: method, path, query, headers, body and client address forwarded."""

    def __init__(self, identity: IdentityAsyncStub, timeout: float) -> None:
        self._identity = identity
        self._timeout = timeout

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (absolute) and their handlers."""
        return {path: {"GET": self.forward, "POST": self.forward} for path in OAUTH_PATHS}

    async def forward(self, request: Request) -> Response:
        """Forward one request; status, headers (every Set-Cookie, Location) and body come back unchanged."""
        headers = [
            ipb.HttpHeader(name=name, value=v.decode("latin-1"))
            for k, v in request.raw_headers
            if (name := k.decode("latin-1").lower()) not in _HOP_BY_HOP
        ]
        message = ipb.HttpRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=headers,
            body=request.body,
            client_ip=request.client_ip,
        )
        reply = await self._identity.HandleOAuthRequest(message, timeout=self._timeout)
        out = [
            (h.name.lower().encode("latin-1"), h.value.encode("latin-1"))
            for h in reply.headers
            if h.name.lower() not in _HOP_BY_HOP
        ]
        return Response(reply.status, bytes(reply.body), out)
