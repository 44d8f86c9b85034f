"""gRPC metadata keys that carry the request's tenant, id and errors between services."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

TENANT = "ngsild-tenant"
REQUEST_ID = "x-request-id"
# Subscription calls from the gateway: the calling client (recorded as the owner of a subscription it
# creates; absent for platform admins and in open mode) and "1" when the caller may use only its own
# subscriptions (a client limited by entity policies). Set by the gateway only; services trust them as
# they trust the tenant (the NetworkPolicy lets only the gateway call the broker).
CLIENT_ID = "cityos-client-id"
OWN_ONLY = "cityos-own-only"
# Trailing metadata entry carrying an RFC 9457 ProblemDetails JSON document (binary: "-bin" suffix).
PROBLEM = "cityos-problem-bin"


def metadata_value(metadata: Iterable[tuple[str, str | bytes]] | None, key: str) -> str:
    """Return the first value of `key` in gRPC metadata as text, or "" when absent."""
    for name, value in metadata or ():
        if name == key:
            return value.decode() if isinstance(value, bytes) else value
    return ""


def call_tenant(context: grpc.aio.ServicerContext) -> str:
    """The tenant a gRPC call is bound to ("" is the deployment's default tenant)."""
    return metadata_value(context.invocation_metadata(), TENANT)
