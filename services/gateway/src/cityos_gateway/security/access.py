"""The authorisation decision of an NGSI-LD request: scope per route, tenant binding, entity-type policies."""

from __future__ import annotations

from dataclasses import dataclass

from cityos_runtime.problems import ProblemError

from cityos_gateway.auth import Principal, forbidden, unauthorized
from cityos_gateway.security.policies import PolicyCache, TenantPolicies

READ, WRITE, SUBSCRIPTIONS, ADMIN = "entities:read", "entities:write", "subscriptions", "admin"
_READ_POSTS = frozenset({"/entityOperations/query", "/temporal/entityOperations/query"})
# Families a caller restricted to some entity types may use: the rest cannot be filtered by type yet.
_TYPE_FILTERED = ("/entities", "/entityOperations", "/types")


@dataclass(frozen=True, slots=True)
class RouteNeed:
    """What a route asks of the caller."""

    scope: str
    write: bool
    filterable: bool  # whether a type-restricted caller can be served (results filtered by type)
    public: bool = False  # readable without any credentials (hosted @context documents)


def route_need(template: str, method: str) -> RouteNeed:
    """The scope and kind of an NGSI-LD route (`template` relative to /ngsi-ld/v1)."""
    write = method not in ("GET", "HEAD") and template not in _READ_POSTS
    if template.startswith("/subscriptions"):
        return RouteNeed(SUBSCRIPTIONS, write, False)
    if template == "/jsonldContexts/{id}" and method == "GET":
        # @context documents are fetched by JSON-LD processors, which send no token.
        return RouteNeed(READ, False, False, public=True)
    return RouteNeed(WRITE if write else READ, write, template.startswith(_TYPE_FILTERED))


@dataclass(frozen=True, slots=True)
class Access:
    """What a caller may touch in the tenant: None = any entity type; a set = only those types."""

    read_types: frozenset[str] | None = None
    write_types: frozenset[str] | None = None
    read_attrs: frozenset[str] | None = None  # None = every attribute of the readable entities

    @property
    def restricted(self) -> bool:
        """Whether the request must be filtered by entity type."""
        return self.read_types is not None or self.write_types is not None


UNRESTRICTED = Access()


class AccessDecider:
    """Decides, from the cached tenant policies, whether and how far a principal may use a tenant."""

    def __init__(self, policies: PolicyCache) -> None:
        self._policies = policies

    def tenant_changed(self, tenant: str) -> None:
        """Forget the tenant's cached policies (after a management call on this replica changed them)."""
        self._policies.invalidate(tenant)

    async def decide(self, principal: Principal, tenant: str, need: RouteNeed) -> Access:
        """The caller's Access to `tenant` for a route, or 401 / 403 / 404."""
        if need.public:
            return UNRESTRICTED
        policies = await self._policies.get(tenant)
        if policies.exists and policies.state == "deleted":
            raise ProblemError("NonexistentTenant", f"tenant {tenant!r} has been deleted")
        if policies.exists and policies.state != "active" and not principal.platform_admin:
            raise forbidden(f"tenant {tenant!r} is {policies.state}", error="insufficient_scope")
        if principal.allows_tenant(tenant):
            _require_scope(principal, need.scope)
            if principal.platform_admin:
                return UNRESTRICTED
            return _member_access(policies, principal, need)
        return _outsider_access(policies, principal, tenant, need)


def _require_scope(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise forbidden(f"this operation needs the {scope!r} scope", scope=scope)


def _member_access(policies: TenantPolicies, principal: Principal, need: RouteNeed) -> Access:
    """A caller of the tenant: unrestricted unless entity policies name its client (or "*")."""
    rules = policies.rules_for(principal.client_id)
    if not rules:
        return UNRESTRICTED
    readers = [r for r in rules if r.read]
    # Attributes are limited only when every rule that grants reading names its attributes.
    limited = bool(readers) and all(r.attributes for r in readers)
    access = Access(
        read_types=frozenset().union(*(r.types for r in readers)),
        write_types=frozenset().union(*(r.types for r in rules if r.write)),
        read_attrs=frozenset().union(*(r.attributes for r in readers)) if limited else None,
    )
    if not need.filterable:
        raise forbidden("entity-type policies limit this client; this API cannot be filtered by type")
    if need.write and not access.write_types:
        raise forbidden("the client's entity policies allow no writes in this tenant")
    return access


def _outsider_access(policies: TenantPolicies, principal: Principal, tenant: str, need: RouteNeed) -> Access:
    """Another tenant's caller (through a sharing grant) or anyone (public types): filtered reads only."""
    readable = set(policies.public_types)
    if principal.tenants:
        for grantee in principal.tenants:
            readable |= policies.grants.get(grantee, frozenset())
    if need.write or not need.filterable or not readable:
        if principal.anonymous:
            raise unauthorized("an access token or API key is required", error="")
        raise forbidden(f"the caller is not allowed to use tenant {tenant!r}")
    if not principal.anonymous:
        _require_scope(principal, READ)
    return Access(read_types=frozenset(readable), write_types=frozenset())
