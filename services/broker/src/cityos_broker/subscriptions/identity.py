"""The notifier's link to the identity service: owners' read policies, or the tenant's data without one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import grpc
from cityos.identity.v1 import identity_pb2 as ipb
from cityos.identity.v1.identity_pb2_grpc import IdentityStub
from cityos_runtime.grpc_client import create_channel
from cityos_runtime.policy_cache import PolicyCache
from cityos_runtime.telemetry import Telemetry

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.policy import IdentityPolicies, NotificationPolicy, TenantData
from cityos_broker.subscriptions.settings import NotifierSettings

if TYPE_CHECKING:
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

_log = logging.getLogger("cityos.broker.notifier")
_CALL_TIMEOUT_S = 5.0


class _WithChannel(IdentityPolicies):
    """IdentityPolicies that close their channel with the notifier."""

    def __init__(self, cache: PolicyCache, core: TermMap, channel: grpc.aio.Channel) -> None:
        super().__init__(cache, core)
        self._channel = channel

    async def aclose(self) -> None:
        await self._channel.close()


def notification_policy(
    settings: NotifierSettings, core: TermMap, telemetry: Telemetry | None = None
) -> NotificationPolicy:
    """IdentityPolicies over a channel to IDENTITY_ADDRESS, or TenantData (logged) when it is not set."""
    if not settings.identity_address:
        _log.warning(
            "IDENTITY_ADDRESS is not set: notifications carry their tenant's data, not filtered by the "
            "subscription owners' entity policies"
        )
        return TenantData()
    channel = create_channel(settings.identity_address, telemetry)
    stub = cast("IdentityAsyncStub", IdentityStub(channel))

    async def fetch(tenant: str) -> Any:
        request = ipb.GetAccessPoliciesRequest(tenant=tenant)
        return await stub.GetAccessPolicies(request, timeout=_CALL_TIMEOUT_S)

    _log.info(
        "notifications are filtered by the owners' policies",
        extra={"identity": settings.identity_address, "policy_ttl": settings.policy_ttl},
    )
    return _WithChannel(PolicyCache(fetch, ttl=settings.policy_ttl), core, channel)
