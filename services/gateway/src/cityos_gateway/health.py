"""Readiness: the broker's gRPC health status, cached for a second so probes never pile onto it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ReadinessCheck = Callable[[], Awaitable[bool]]

_CACHE_SECONDS = 1.0
_CHECK_TIMEOUT = 1.0


class BrokerReadiness:
    """Whether the broker answers SERVING to the standard gRPC health check, cached for one second."""

    def __init__(self, channel: grpc.aio.Channel, service: str = "") -> None:
        self._stub = health_pb2_grpc.HealthStub(channel)
        self._service = service
        self._checked_at = float("-inf")
        self._ready = False

    async def __call__(self) -> bool:
        """The cached answer, refreshed when older than a second."""
        now = time.monotonic()
        if now - self._checked_at < _CACHE_SECONDS:
            return self._ready
        try:
            reply = await self._stub.Check(
                health_pb2.HealthCheckRequest(service=self._service), timeout=_CHECK_TIMEOUT
            )
            self._ready = reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.aio.AioRpcError:
            self._ready = False
        self._checked_at = time.monotonic()
        return self._ready
