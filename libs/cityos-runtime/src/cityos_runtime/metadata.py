"""gRPC metadata keys that carry the request's tenant, id and errors between services."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

TENANT = "ngsild-tenant"
REQUEST_ID = "x-request-id"
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
