"""A real grpc.aio server with a bounded connection age: clients reconnect, calls in flight finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from cityos_runtime.grpc_client import create_channel
from cityos_runtime.grpc_server import ConnectionAge, GrpcServer
from cityos_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.integration

SERVICE = "cityos.test.v1.Peer"


class PeerService:
    """`Peer` answers with the client address the server sees; `Hold` waits for `release`."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def peer(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return context.peer().encode()

    async def hold(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.holding.set()
        await self.release.wait()
        return context.peer().encode()

    def register(self, server: grpc.aio.Server) -> None:
        handlers = {
            "Peer": grpc.unary_unary_rpc_method_handler(self.peer),
            "Hold": grpc.unary_unary_rpc_method_handler(self.hold),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@asynccontextmanager
async def serving(age: ConnectionAge) -> AsyncIterator[tuple[PeerService, grpc.aio.Channel]]:
    telemetry = setup_telemetry("peer")
    service = PeerService()
    server = GrpcServer("peer", "127.0.0.1", 0, telemetry, connection_age=age)
    server.add(service.register, [SERVICE])
    port = await server.start()
    channel = create_channel(f"127.0.0.1:{port}")
    try:
        yield service, channel
    finally:
        service.release.set()
        await channel.close()
        await server.stop(grace=1.0)
        telemetry.shutdown()


async def _new_peer(channel: grpc.aio.Channel, first: str, timeout: float = 10.0) -> str:
    """Call Peer until the server sees the client on another connection (another source port)."""
    call = channel.unary_unary(f"/{SERVICE}/Peer")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seen = (await call(b"", timeout=5)).decode()
        if seen != first:
            return seen
        assert loop.time() < deadline, f"the client stayed on its first connection {first}"
        await asyncio.sleep(0.05)


async def test_an_aged_connection_is_replaced_and_calls_in_flight_finish() -> None:
    async with serving(ConnectionAge(max_age=0.3, grace=30.0)) as (service, channel):
        first = (await channel.unary_unary(f"/{SERVICE}/Peer")(b"", timeout=5)).decode()
        held = asyncio.ensure_future(channel.unary_unary(f"/{SERVICE}/Hold")(b"", timeout=30))
        await asyncio.wait_for(service.holding.wait(), 5)
        # The server sent GOAWAY once the connection aged: new calls go over a new connection...
        second = await _new_peer(channel, first)
        assert second.startswith("ipv4:127.0.0.1:")
        # ...while the call started on the old one still completes there, within the grace.
        service.release.set()
        assert (await asyncio.wait_for(held, 10)).decode() == first


async def test_the_age_read_from_the_environment_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_MAX_CONNECTION_AGE", "0.3")
    monkeypatch.setenv("GRPC_MAX_CONNECTION_AGE_GRACE", "5")
    telemetry = setup_telemetry("peer")
    service = PeerService()
    server = GrpcServer("peer", "127.0.0.1", 0, telemetry)
    server.add(service.register, [SERVICE])
    port = await server.start()
    channel = create_channel(f"127.0.0.1:{port}")
    try:
        first = (await channel.unary_unary(f"/{SERVICE}/Peer")(b"", timeout=5)).decode()
        await _new_peer(channel, first)
    finally:
        await channel.close()
        await server.stop(grace=1.0)
        telemetry.shutdown()
