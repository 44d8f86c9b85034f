"""Per-tenant cache of compiled subscriptions, reloaded when the tenant's subscription version moves."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, ContextResolver, TermMap
from cityos_broker.subscriptions.matcher import CompiledSubscription, compile_subscription
from cityos_broker.subscriptions.store import SubscriptionStore

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ready:
    """A subscription compiled for matching, with the term map its notifications are compacted with."""

    compiled: CompiledSubscription
    terms: TermMap


class SubscriptionCache:
    """Compiled subscriptions per tenant; one GET of the version counter tells whether to reload."""

    def __init__(self, store: SubscriptionStore, resolver: ContextResolver) -> None:
        self._store = store
        self._resolver = resolver
        self._tenants: dict[str, tuple[int, list[Ready]]] = {}

    async def _terms(self, context: object) -> TermMap:
        if context is None or context == CORE_CONTEXT_URL:
            return self._resolver.core
        if isinstance(context, str):
            return await self._resolver.term_map_for(context, None)
        return await self._resolver.term_map_for(None, context)

    async def get(self, tenant: str) -> list[Ready]:
        """The tenant's subscriptions, reloaded only when their version changed."""
        cached = self._tenants.get(tenant)
        if cached is not None and cached[0] == await self._store.version(tenant):
            return cached[1]
        version, subs = await self._store.all(tenant)
        ready: list[Ready] = []
        for sub in subs:
            try:
                q_terms = await self._terms(sub.get("qContext"))
                terms = await self._terms(sub.get("jsonldContext"))
                ready.append(Ready(compile_subscription(sub, q_terms), terms))
            except ProblemError as problem:
                # An @context that cannot be fetched now: skip the subscription until it can be compiled.
                _log.warning(
                    "subscription not compiled",
                    extra={"tenant": tenant, "subscription": sub.get("id"), "error": problem.detail},
                )
                version = -1  # force a reload next time
        self._tenants[tenant] = (version, ready)
        return ready

    def forget(self, tenant: str) -> None:
        """Drop a tenant that no longer exists."""
        self._tenants.pop(tenant, None)
