"""Per-tenant access policies from the identity service, cached a few seconds (one RPC per tenant per TTL).

Used by the gateway (every request) and the broker's notifier (every batch of change events).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from cityos_runtime.access_policies import TenantPolicies, policies_from_reply
from cityos_runtime.problems import ProblemError

_log = logging.getLogger("cityos.policies")

# tenant -> AccessPolicies-like object (tenant_state, policies, public_types, grants, version)
PolicyFetch = Callable[[str], Awaitable[Any]]


class PolicyCache:
    """`GetAccessPolicies` per tenant, kept `ttl` s; concurrent misses share one call; a stale entry serves
    while the identity service is unreachable, retried once per `ttl` (without one: ProblemError 503)."""

    def __init__(
        self, fetch: PolicyFetch, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, TenantPolicies]] = {}
        self._inflight: dict[str, asyncio.Future[TenantPolicies]] = {}

    async def get(self, tenant: str) -> TenantPolicies:
        """The tenant's policies (fresh within the TTL)."""
        entry = self._entries.get(tenant)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        pending = self._inflight.get(tenant)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[TenantPolicies] = asyncio.get_running_loop().create_future()
        self._inflight[tenant] = future
        try:
            policies = await self._load(tenant, entry[1] if entry else None)
            future.set_result(policies)
            return policies
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved here, so a future nobody else awaits does not warn
            raise
        finally:
            del self._inflight[tenant]

    def invalidate(self, tenant: str) -> None:
        """Forget a tenant (after a management call changed it on this replica)."""
        self._entries.pop(tenant, None)

    async def _load(self, tenant: str, stale: TenantPolicies | None) -> TenantPolicies:
        try:
            policies = policies_from_reply(tenant, await self._fetch(tenant))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                policies = TenantPolicies(tenant=tenant, exists=False)
            elif stale is not None:
                _log.warning("identity unreachable; serving stale policies", extra={"tenant": tenant})
                # Kept another TTL: one attempt per tenant and TTL during an outage, not one per caller
                # (a call to an unresponsive identity waits for its deadline).
                policies = stale
            else:
                raise ProblemError(
                    "InternalError", "the identity service is unavailable", status=503
                ) from error
        self._entries[tenant] = (self._clock() + self._ttl, policies)
        return policies
