"""The authentication hook: who is calling, and may they use the tenant they asked for."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from cityos_runtime.problems import ProblemError

from cityos_gateway.http import Request

_log = logging.getLogger("cityos.gateway.auth")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its subject, the tenants it may use (None = every tenant) and its scopes."""

    subject: str
    tenants: frozenset[str] | None
    scopes: frozenset[str]

    def allows_tenant(self, tenant: str) -> bool:
        """Whether this caller may act in `tenant`."""
        return self.tenants is None or tenant in self.tenants


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


AUTH_MODES = ("open",)


def build_authenticator(mode: str) -> Authenticator:
    """The authenticator for GATEWAY_AUTH_MODE; an unknown mode fails start-up."""
    if mode == "open":
        _log.warning(
            "AUTHENTICATION IS OFF (GATEWAY_AUTH_MODE=open): every caller may read and write every tenant; "
            "use this mode for development only"
        )
        return OpenAuthenticator()
    raise ValueError(f"GATEWAY_AUTH_MODE={mode!r} is not supported; known modes: {', '.join(AUTH_MODES)}")


def check_tenant(principal: Principal, tenant: str) -> None:
    """The tenant binding: 403 when the caller may not use the tenant."""
    if not principal.allows_tenant(tenant):
        raise ProblemError("Forbidden", f"the caller is not allowed to use tenant {tenant!r}")
