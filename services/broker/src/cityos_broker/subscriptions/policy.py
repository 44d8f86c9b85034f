"""What a subscription's owner may read now: the notifier's view of entities through identity's policies.

A subscription records the client that created it (`owner`, set by the broker from the gateway's call
metadata, never from the request body). For each batch of change events the notifier takes one snapshot of
the tenant's policies (cached per tenant, `cityos_runtime.policy_cache`) and sees every entity as the owner
may read it (`cityos_runtime.access_policies.client_access`, the gateway's own rules): entities of other
types are invisible, and when the rules name attributes, other attributes are removed before matching, so
neither watched attributes, q nor geoQ reveal anything the owner may not read. Nothing is notified while
the tenant is suspended or deleted.

Subscriptions without an owner (created before owners were recorded, by a platform admin, in open mode,
or by a direct gRPC caller) notify the tenant's data as they always did. Without an identity service
(`IDENTITY_ADDRESS` unset) every subscription does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from cityos_runtime.access_policies import TenantPolicies, client_access
from cityos_runtime.policy_cache import PolicyCache

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.matcher import ChangeEvent
from cityos_broker.subscriptions.model import Stored

Entity = dict[str, Any]
OWNER = "owner"  # the stored subscription member naming the owning client (internal, never rendered)
# (entity type IRIs the owner may read, attribute IRIs it may read); None = no limit.
_Limits = tuple[frozenset[str] | None, frozenset[str] | None]
_NONE: _Limits = (None, None)


class OwnerView:
    """One snapshot of a tenant's policies, applied to entities per subscription owner."""

    def __init__(self, policies: TenantPolicies | None, core: TermMap | None = None) -> None:
        self._policies = policies
        self._core = core
        self._owners: dict[str, _Limits] = {}
        self.serving = policies is None or policies.serving

    def _limits(self, owner: str) -> _Limits:
        limits = self._owners.get(owner)
        if limits is None:
            if self._policies is None or self._core is None:
                limits = _NONE
            else:
                access = client_access(self._policies, owner)
                expand = self._core.expand  # policies name types and attributes as core-context terms
                types = None if access.read_types is None else frozenset(map(expand, access.read_types))
                attrs = None if access.read_attrs is None else frozenset(map(expand, access.read_attrs))
                limits = (types, attrs)
            self._owners[owner] = limits
        return limits

    def restricted(self, sub: Stored) -> bool:
        """Whether the subscription's notifications are limited by its owner's policies."""
        owner = sub.get(OWNER)
        return owner is not None and self._limits(owner)[0] is not None

    def event(self, sub: Stored, event: ChangeEvent) -> ChangeEvent | None:
        """The change as the subscription's owner may see it (None: nothing of it)."""
        if not self.restricted(sub):
            return event
        before = self.visible(sub, event.before) if event.before is not None else None
        after = self.visible(sub, event.after) if event.after is not None else None
        if before is None and after is None:
            return None
        return dataclasses.replace(event, before=before, after=after)

    def visible(self, sub: Stored, entity: Entity) -> Entity | None:
        """The entity as the owner may read it now (None: not at all)."""
        if not self.serving:
            return None
        owner = sub.get(OWNER)
        if owner is None:
            return entity
        types, attrs = self._limits(owner)
        if types is None:
            return entity
        if types.isdisjoint(entity.get("type") or ()):
            return None
        if attrs is None:
            return entity
        return {**entity, "attrs": {k: v for k, v in (entity.get("attrs") or {}).items() if k in attrs}}


class NotificationPolicy(Protocol):
    """A tenant's OwnerView for the current batch."""

    async def view(self, tenant: str) -> OwnerView: ...

    async def aclose(self) -> None:
        """Release clients (called when the notifier stops)."""


class TenantData:
    """No identity service: every subscription is notified of its tenant's data."""

    _VIEW = OwnerView(None)

    async def view(self, tenant: str) -> OwnerView:
        return self._VIEW

    async def aclose(self) -> None:
        return None


class IdentityPolicies:
    """Owners' read rights from the identity service's policies (one RPC per tenant per cache TTL).

    `view` raises ProblemError (503) when identity has never answered for the tenant and does not answer
    now; the notifier then leaves the tenant's events pending and retries them later.
    """

    def __init__(self, cache: PolicyCache, core: TermMap) -> None:
        self._cache = cache
        self._core = core

    async def view(self, tenant: str) -> OwnerView:
        return OwnerView(await self._cache.get(tenant), self._core)

    async def aclose(self) -> None:
        return None
