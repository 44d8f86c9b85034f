"""The authorisation decision of an NGSI-LD request: scope per route, tenant binding, entity-type policies.

The policy evaluation itself (`client_access`) is shared with the broker, which filters notifications by
the same rules (cityos_runtime.access_policies).
"""

from __future__ import annotations

from dataclasses import dataclass

from cityos_runtime.access_policies import TenantPolicies, client_access
from cityos_runtime.policy_cache import PolicyCache
from cityos_runtime.problems import ProblemError

from cityos_gateway.auth import Principal, forbidden, unauthorized

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
    owned: bool = False  # subscriptions: owned by the caller, their notifications filtered by the broker


def route_need(template: str, method: str) -> RouteNeed:
    """The scope and kind of an NGSI-LD route (`template` relative to /ngsi-ld/v1)."""
    write = method not in ("GET", "HEAD") and template not in _READ_POSTS
    if template.startswith("/subscriptions"):
        return RouteNeed(SUBSCRIPTIONS, write, False, owned=True)
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
    # Subscription routes: the client recorded as owner of the subscriptions the caller creates (None: no
    # owner, unrestricted notifications), and whether the caller sees only its own subscriptions.
    owner: str | None = None
    own_only: bool = False

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
    limits = client_access(policies, principal.client_id)
    if need.owned:
        # The broker filters each notification by what the owner may read when it is sent, so a limited
        # client may subscribe (even to types it cannot read now: nothing of them is notified until a
        # policy allows it); it sees and changes only its own subscriptions.
        return Access(owner=principal.client_id, own_only=limits.restricted)
    if not limits.restricted:
        return UNRESTRICTED
    access = Access(limits.read_types, limits.write_types, limits.read_attrs)
    if not need.filterable:
        raise forbidden("entity-type policies limit this client; this API cannot be filtered by type")
    if need.write and not access.write_types:
        raise forbidden("the client's entity policies allow no writes in this tenant")
    return access


def _outsider_access(policies: TenantPolicies, principal: Principal, tenant: str, need: RouteNeed) -> Access:
    """Another tenant's caller (through a sharing grant) or anyone (public types): filtered reads only.

    Subscriptions stay closed to outsiders: a notification is filtered by its owner's rules in the owner's
    tenant, and grants and public types are not such rules (a grant names a tenant, not a client).
    """
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
