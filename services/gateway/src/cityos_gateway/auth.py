"""The authentication hook: who is calling, and may they use the tenant they asked for."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from cityos_runtime.problems import ProblemError

from cityos_gateway.http import Request

_log = logging.getLogger("cityos.gateway.auth")

ANONYMOUS_SUBJECT = "anonymous"


class AuthProblem(ProblemError):
    """A 401/403/429 that carries the response headers RFC 6750 / RFC 9110 ask for."""

    def __init__(self, kind: str, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(kind, detail)
        self.headers = headers


def unauthorized(detail: str, error: str = "invalid_token") -> AuthProblem:
    """401 with `WWW-Authenticate: Bearer ... error=...` (RFC 6750 section 3; no error code when the
    request carried no credentials at all)."""
    challenge = 'Bearer realm="cityos"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    return AuthProblem("Unauthorized", detail, (("www-authenticate", challenge),))


def forbidden(detail: str, error: str = "insufficient_scope", scope: str = "") -> AuthProblem:
    """403 with `WWW-Authenticate: Bearer error="insufficient_scope"` (and the scope needed)."""
    challenge = f'Bearer realm="cityos", error="{error}"'
    if scope:
        challenge += f', scope="{scope}"'
    return AuthProblem("Forbidden", detail, (("www-authenticate", challenge),))


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its subject, the tenants it may use (None = every tenant) and its scopes.

    `client_id` is the OAuth client (or API key id) that entity policies name; `token` is the caller's bearer
    token, kept only to forward it to the identity service on management calls (never logged: repr=False).
    """

    subject: str
    tenants: frozenset[str] | None
    scopes: frozenset[str]
    client_id: str = ""
    roles: frozenset[str] = frozenset()
    token: str = field(default="", repr=False)
    anonymous: bool = False

    def allows_tenant(self, tenant: str) -> bool:
        """Whether this caller may act in `tenant`."""
        return self.tenants is None or tenant in self.tenants

    def has_scope(self, scope: str) -> bool:
        """Whether the caller's token carries `scope` (open mode carries every scope)."""
        return "*" in self.scopes or scope in self.scopes

    @property
    def platform_admin(self) -> bool:
        """Platform admins may use every tenant."""
        return self.tenants is None

    @property
    def rate_key(self) -> str:
        """The identity the per-client rate limit counts requests under."""
        return self.client_id or self.subject


ANONYMOUS = Principal(subject=ANONYMOUS_SUBJECT, tenants=frozenset(), scopes=frozenset(), anonymous=True)


class Authenticator(Protocol):
    """Turns a request's credentials into a Principal, or raises ProblemError (401)."""

    async def authenticate(self, request: Request) -> Principal:
        """The caller of `request`."""
        ...


class OpenAuthenticator:
    """Development mode: every caller is an anonymous developer allowed every tenant and scope."""

    _ANONYMOUS = Principal(subject="anonymous", tenants=None, scopes=frozenset({"*"}))

    async def authenticate(self, request: Request) -> Principal:
        """Always the anonymous developer."""
        return self._ANONYMOUS


AUTH_MODES = ("open", "oidc")


def build_authenticator(mode: str) -> Authenticator:
    """The authenticator for GATEWAY_AUTH_MODE=open; "oidc" is built by `cityos_gateway.oidc.build_oidc`
    (it needs the identity channel); an unknown mode fails start-up."""
    if mode == "open":
        _log.warning(
            "AUTHENTICATION IS OFF (GATEWAY_AUTH_MODE=open): every caller may read and write every tenant; "
            "use this mode for development only"
        )
        return OpenAuthenticator()
    if mode == "oidc":
        raise ValueError(
            "GATEWAY_AUTH_MODE=oidc needs the identity service: use cityos_gateway.oidc.build_oidc"
        )
    raise ValueError(f"GATEWAY_AUTH_MODE={mode!r} is not supported; known modes: {', '.join(AUTH_MODES)}")


def check_tenant(principal: Principal, tenant: str) -> None:
    """The tenant binding: 403 when the caller may not use the tenant."""
    if not principal.allows_tenant(tenant):
        raise forbidden(f"the caller is not allowed to use tenant {tenant!r}", error="insufficient_scope")
