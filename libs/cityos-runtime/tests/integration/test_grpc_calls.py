"""PropagatingChannel over real grpc.aio servers: context without interceptors, CLIENT spans, round robin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import pytest
from cityos_runtime import request_context
from cityos_runtime.grpc_calls import PropagatingChannel
from cityos_runtime.grpc_client import ROUND_ROBIN, balanced_target, create_channel
from cityos_runtime.grpc_server import GrpcServer
from cityos_runtime.telemetry import Telemetry, setup_telemetry
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

pytestmark = pytest.mark.integration

SERVICE = "cityos.test.v1.Who"


class WhoService:
    """Answers which server it is and what context it saw."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def whoami(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        ctx = trace.get_current_span().get_span_context()
        metadata = dict(context.invocation_metadata() or ())
        seen = [
            self.name,
            request_context.get_tenant(),
            request_context.get_request_id(),
            format(ctx.trace_id, "032x"),
            str(metadata.get("traceparent", "")),
        ]
        return "|".join(seen).encode()

    async def missing(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such entity")
        raise AssertionError("unreachable")

    def register(self, server: grpc.aio.Server) -> None:
        handlers = {
            "Whoami": grpc.unary_unary_rpc_method_handler(self.whoami),
            "Missing": grpc.unary_unary_rpc_method_handler(self.missing),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@dataclass
class Servers:
    ports: list[int]
    spans: InMemorySpanExporter


@asynccontextmanager
async def servers(count: int) -> AsyncIterator[Servers]:
    spans = InMemorySpanExporter()
    telemetry = setup_telemetry("who", span_exporter=spans)
    started: list[GrpcServer] = []
    try:
        for number in range(count):
            server = GrpcServer("who", "127.0.0.1", 0, telemetry)
            server.add(WhoService(f"server{number}").register, [SERVICE])
            await server.start()
            started.append(server)
        yield Servers([s.port or 0 for s in started], spans)
    finally:
        for server in started:
            await server.stop(grace=0.5)
        telemetry.shutdown()


@asynccontextmanager
async def channel_to(target: str, telemetry: Telemetry) -> AsyncIterator[PropagatingChannel]:
    channel = create_channel(balanced_target(target), propagate=False, options=ROUND_ROBIN)
    try:
        yield PropagatingChannel(channel, telemetry)
    finally:
        await channel.close()


async def test_unrecorded_trace_tenant_and_request_id_reach_the_server_without_a_client_span() -> None:
    telemetry = setup_telemetry("caller")  # no exporter: spans are not recorded
    async with servers(1) as running, channel_to(f"127.0.0.1:{running.ports[0]}", telemetry) as channel:
        with (
            request_context.request_scope("otaru", "req-1"),
            telemetry.tracer.start_as_current_span("request") as root,
        ):
            reply = await channel.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=5)
    telemetry.shutdown()
    _, tenant, request_id, trace_id, traceparent = reply.decode().split("|")
    ctx = root.get_span_context()
    assert not root.is_recording() and ctx.is_valid
    assert (tenant, request_id) == ("otaru", "req-1")
    assert trace_id == f"{ctx.trace_id:032x}"
    assert traceparent == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    assert not ctx.trace_flags.sampled


async def test_recorded_calls_get_a_client_span_under_the_caller_and_over_the_server() -> None:
    client_spans = InMemorySpanExporter()
    telemetry = setup_telemetry("caller", span_exporter=client_spans)
    async with servers(1) as running, channel_to(f"127.0.0.1:{running.ports[0]}", telemetry) as channel:
        with telemetry.tracer.start_as_current_span("request") as root:
            await channel.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary(f"/{SERVICE}/Missing")(b"", timeout=5)
    telemetry.shutdown()
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    clients = {s.name: s for s in client_spans.get_finished_spans() if s.kind is SpanKind.CLIENT}
    ok, missing = clients[f"{SERVICE}/Whoami"], clients[f"{SERVICE}/Missing"]
    assert ok.parent is not None and ok.parent.span_id == root.get_span_context().span_id
    assert ok.attributes is not None and ok.attributes["rpc.grpc.status_code"] == 0
    assert missing.status.status_code is StatusCode.ERROR
    server = {s.name: s for s in running.spans.get_finished_spans()}[f"{SERVICE}/Whoami"]
    assert server.parent is not None and server.parent.span_id == ok.context.span_id


async def test_caller_metadata_wins() -> None:
    telemetry = setup_telemetry("caller")
    async with servers(1) as running, channel_to(f"127.0.0.1:{running.ports[0]}", telemetry) as channel:
        with request_context.request_scope("otaru", "req-1"):
            given = (("ngsild-tenant", "sapporo"), ("traceparent", f"00-{'ab' * 16}-{'cd' * 8}-01"))
            reply = await channel.unary_unary(f"/{SERVICE}/Whoami")(b"", metadata=given, timeout=5)
    telemetry.shutdown()
    _, tenant, request_id, trace_id, _ = reply.decode().split("|")
    assert (tenant, request_id, trace_id) == ("sapporo", "req-1", "ab" * 16)


async def test_a_list_of_addresses_spreads_calls_over_every_server() -> None:
    telemetry = setup_telemetry("caller")
    async with servers(2) as running:
        target = ",".join(f"127.0.0.1:{port}" for port in running.ports)
        async with channel_to(target, telemetry) as channel:
            whoami = channel.unary_unary(f"/{SERVICE}/Whoami")
            answered = {(await whoami(b"", timeout=5)).decode().split("|")[0] for _ in range(20)}
    telemetry.shutdown()
    assert answered == {"server0", "server1"}
