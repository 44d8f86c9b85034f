"""Who is calling a management RPC (from the forwarded bearer token) and what they may do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cityos_runtime.problems import ProblemError

ADMIN_SCOPE = "admin"


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified principal behind a call; `subject` is "" for an anonymous caller."""

    subject: str = ""
    client_id: str = ""
    scopes: frozenset[str] = frozenset()
    platform_admin: bool = False
    tenant_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Caller:
        roles = claims.get("tenant_roles") or {}
        return cls(
            subject=str(claims.get("sub", "")),
            client_id=str(claims.get("client_id", "")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            platform_admin="platform-admin" in (claims.get("roles") or []),
            tenant_roles={str(t): frozenset(r) for t, r in roles.items()} if isinstance(roles, dict) else {},
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.subject)

    def require_authenticated(self) -> None:
        if not self.authenticated:
            raise ProblemError(
                "Unauthorized", "this call needs the caller's access token (metadata 'authorization')"
            )

    def _require_admin_scope(self) -> None:
        self.require_authenticated()
        if ADMIN_SCOPE not in self.scopes:
            raise ProblemError("Forbidden", "the access token lacks the 'admin' scope")

    def require_platform_admin(self) -> None:
        self._require_admin_scope()
        if not self.platform_admin:
            raise ProblemError("Forbidden", "only a platform admin may do this")

    def is_tenant_admin(self, tenant: str) -> bool:
        return self.platform_admin or "tenant-admin" in self.tenant_roles.get(tenant, frozenset())

    def require_tenant_admin(self, tenant: str) -> None:
        self._require_admin_scope()
        if not self.is_tenant_admin(tenant):
            raise ProblemError(
                "Forbidden", f"only a platform admin or an admin of tenant {tenant!r} may do this"
            )

    def require_self_or_admin(self, subject: str, tenants: list[str]) -> None:
        """The resident themself, or an admin of one of the tenants they belong to."""
        self.require_authenticated()
        if subject == self.subject and not self.client_only:
            return
        if ADMIN_SCOPE in self.scopes and (
            self.platform_admin or any(self.is_tenant_admin(t) for t in tenants)
        ):
            return
        raise ProblemError("Forbidden", "only the resident or an admin may see or change these records")

    @property
    def client_only(self) -> bool:
        """True for a client_credentials token (its subject is the client itself)."""
        return self.subject == self.client_id
