"""A tenant's access policies (identity's `GetAccessPolicies`) and what they let one client read or write.

Pure code, shared by the gateway (requests) and the broker (notifications), so both decide the same way:
a client of the tenant is unrestricted unless entity policies name it (or "*"); then it may read the
types of the rules that grant reading, and only named attributes when every such rule names some.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class TypeRule:
    """One entity policy: which client, which entity types, read / write and (optionally) attributes."""

    client_id: str
    types: frozenset[str]
    read: bool
    write: bool
    attributes: frozenset[str] = frozenset()  # empty = every attribute


@dataclass(frozen=True, slots=True)
class TenantPolicies:
    """Everything enforced on one tenant. `exists` False: identity does not know the tenant."""

    tenant: str
    exists: bool
    state: str = ACTIVE  # "active", "suspended" or "deleted"
    rules: tuple[TypeRule, ...] = ()
    public_types: frozenset[str] = frozenset()
    grants: dict[str, frozenset[str]] = field(default_factory=dict)  # grantee -> types it may read

    def rules_for(self, client_id: str) -> list[TypeRule]:
        """The rules naming this client or every caller ("*")."""
        return [r for r in self.rules if r.client_id in (client_id, "*")]

    @property
    def serving(self) -> bool:
        """False while the tenant is suspended or deleted: nothing is served or notified."""
        return not self.exists or self.state == ACTIVE


@dataclass(frozen=True, slots=True)
class ClientAccess:
    """What one client of the tenant may touch. None = no limit (any type, every attribute)."""

    read_types: frozenset[str] | None = None
    write_types: frozenset[str] | None = None
    read_attrs: frozenset[str] | None = None  # None = every attribute of the readable entities

    @property
    def restricted(self) -> bool:
        """Whether entity policies limit the client at all."""
        return self.read_types is not None or self.write_types is not None


UNLIMITED = ClientAccess()


def client_access(policies: TenantPolicies, client_id: str) -> ClientAccess:
    """A tenant member's access: unlimited unless rules name its client (or "*")."""
    rules = policies.rules_for(client_id)
    if not rules:
        return UNLIMITED
    readers = [r for r in rules if r.read]
    # Attributes are limited only when every rule that grants reading names its attributes.
    limited = bool(readers) and all(r.attributes for r in readers)
    return ClientAccess(
        read_types=frozenset().union(*(r.types for r in readers)),
        write_types=frozenset().union(*(r.types for r in rules if r.write)),
        read_attrs=frozenset().union(*(r.attributes for r in readers)) if limited else None,
    )


def policies_from_reply(tenant: str, reply: Any) -> TenantPolicies:
    """Convert an `AccessPolicies` message (duck-typed: this module imports no protos)."""
    grants: dict[str, frozenset[str]] = {}
    for grant in reply.grants:
        grants[grant.grantee] = grants.get(grant.grantee, frozenset()) | frozenset(grant.entity_types)
    return TenantPolicies(
        tenant=tenant,
        exists=True,
        state=reply.tenant_state or ACTIVE,
        rules=tuple(
            TypeRule(
                p.client_id, frozenset(p.entity_types), p.read or p.write, p.write, frozenset(p.attributes)
            )
            for p in reply.policies
        ),
        public_types=frozenset(reply.public_types),
        grants=grants,
    )
