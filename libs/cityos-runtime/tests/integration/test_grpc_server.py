"""A real grpc.aio server on 127.0.0.1:0: health, graceful stop, trace and tenant propagation, metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cityos_runtime import request_context
from cityos_runtime.grpc_client import create_channel, outgoing_metadata
from cityos_runtime.grpc_server import GrpcServer
from cityos_runtime.problems import ProblemError, problem_from_rpc_error
from cityos_runtime.telemetry import Telemetry, setup_telemetry
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

pytestmark = pytest.mark.integration

SERVICE = "cityos.test.v1.Echo"


class EchoService:
    """Raw-bytes handlers that report what the server saw; `release` holds Slow calls in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.slow_started = asyncio.Event()
        self.stream_closed = asyncio.Event()

    async def whoami(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        ctx = trace.get_current_span().get_span_context()
        seen = [request_context.get_tenant(), request_context.get_request_id(), format(ctx.trace_id, "032x")]
        return "|".join(seen).encode()

    async def slow(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.slow_started.set()
        await self.release.wait()
        return b"done:" + request

    async def missing(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such entity")
        raise AssertionError("unreachable")

    async def invalid(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise ProblemError("BadRequestData", f"invalid entity id {request.decode()!r}")

    async def broken(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise RuntimeError("bug in handler")

    async def count(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for i in range(int(request)):
            yield f"{request_context.get_tenant()}:{i}".encode()

    async def endless(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        # No await of its own: a client cancel lands in grpc's send, leaving this generator suspended.
        try:
            while True:
                yield b"tick"
        finally:
            self.stream_closed.set()

    async def total(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        return str(sum([int(r) async for r in requests])).encode()

    def register(self, server: grpc.aio.Server) -> None:
        handlers = {
            "Whoami": grpc.unary_unary_rpc_method_handler(self.whoami),
            "Slow": grpc.unary_unary_rpc_method_handler(self.slow),
            "Missing": grpc.unary_unary_rpc_method_handler(self.missing),
            "Broken": grpc.unary_unary_rpc_method_handler(self.broken),
            "Invalid": grpc.unary_unary_rpc_method_handler(self.invalid),
            "Count": grpc.unary_stream_rpc_method_handler(self.count),
            "Total": grpc.stream_unary_rpc_method_handler(self.total),
            "Endless": grpc.unary_stream_rpc_method_handler(self.endless),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@dataclass
class Running:
    server: GrpcServer
    service: EchoService
    channel: grpc.aio.Channel
    server_spans: InMemorySpanExporter
    client_spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    client_telemetry: Telemetry

    def method(self, name: str) -> Any:
        return self.channel.unary_unary(f"/{SERVICE}/{name}")


@asynccontextmanager
async def running_server() -> AsyncIterator[Running]:
    server_spans, client_spans, reader = (
        InMemorySpanExporter(),
        InMemorySpanExporter(),
        InMemoryMetricReader(),
    )
    server_telemetry = setup_telemetry("echo", span_exporter=server_spans, metric_reader=reader)
    client_telemetry = setup_telemetry("caller", span_exporter=client_spans)
    service = EchoService()
    server = GrpcServer("echo", "127.0.0.1", 0, server_telemetry)
    server.add(service.register, [SERVICE])
    port = await server.start()
    channel = create_channel(f"127.0.0.1:{port}", client_telemetry)
    try:
        yield Running(server, service, channel, server_spans, client_spans, reader, client_telemetry)
    finally:
        service.release.set()
        await channel.close()
        await server.stop(grace=1.0)
        server_telemetry.shutdown()
        client_telemetry.shutdown()


async def test_health_reports_serving_for_server_and_each_service() -> None:
    async with running_server() as run:
        assert run.server.port is not None and run.server.port > 0
        stub = health_pb2_grpc.HealthStub(run.channel)
        for name in ("", SERVICE):
            response = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Check(health_pb2.HealthCheckRequest(service="cityos.unknown.v1.Nope"), timeout=5)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        # Probes are not traced: they would drown real traffic.
        assert run.server_spans.get_finished_spans() == ()


async def test_reflection_lists_the_services() -> None:
    async with running_server() as run:
        stub = reflection_pb2_grpc.ServerReflectionStub(run.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        call = stub.ServerReflectionInfo(iter([request]), timeout=5)
        names = {s.name async for response in call for s in response.list_services_response.service}
        assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_stop_flips_health_then_lets_in_flight_calls_finish() -> None:
    async with running_server() as run:
        health = health_pb2_grpc.HealthStub(run.channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING

        in_flight = asyncio.ensure_future(run.method("Slow")(b"x", timeout=5))
        await asyncio.wait_for(run.service.slow_started.wait(), 5)
        stopping = asyncio.ensure_future(run.server.stop(grace=5.0))

        update = await asyncio.wait_for(watch.read(), 5)
        assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()  # a watcher would otherwise hold the server until the grace period ends
        assert not in_flight.done()

        run.service.release.set()
        assert await asyncio.wait_for(in_flight, 5) == b"done:x"
        await asyncio.wait_for(stopping, 5)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await run.method("Whoami")(b"", timeout=2)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_check_answers_not_serving_during_drain_delay() -> None:
    async with running_server() as run:
        stub = health_pb2_grpc.HealthStub(run.channel)
        stopping = asyncio.ensure_future(run.server.stop(grace=1.0, drain_delay=0.5))
        await asyncio.sleep(0)  # let stop() flip health before the probe
        response = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await asyncio.wait_for(stopping, 5)


async def test_trace_tenant_and_request_id_propagate_to_the_server() -> None:
    async with running_server() as run:
        tenant_token = request_context.set_tenant("sapporo")
        request_token = request_context.set_request_id("req-7")
        try:
            with run.client_telemetry.tracer.start_as_current_span("gateway request") as root:
                reply = await run.method("Whoami")(b"", timeout=5)
        finally:
            request_context.reset_request_id(request_token)
            request_context.reset_tenant(tenant_token)
        trace_id = format(root.get_span_context().trace_id, "032x")
        assert reply.decode() == f"sapporo|req-7|{trace_id}"

        (server_span,) = run.server_spans.get_finished_spans()
        client_spans = {s.name: s for s in run.client_spans.get_finished_spans()}
        client_span = client_spans[f"{SERVICE}/Whoami"]
        assert client_span.kind is SpanKind.CLIENT
        assert server_span.kind is SpanKind.SERVER
        assert server_span.name == f"{SERVICE}/Whoami"
        assert server_span.context.trace_id == root.get_span_context().trace_id
        assert server_span.parent is not None and server_span.parent.span_id == client_span.context.span_id
        assert server_span.attributes == {
            "rpc.system": "grpc",
            "rpc.service": SERVICE,
            "rpc.method": "Whoami",
            "rpc.grpc.status_code": 0,
        }


async def test_explicit_metadata_on_an_uninstrumented_channel_propagates() -> None:
    async with running_server() as run:
        channel = create_channel(f"127.0.0.1:{run.server.port}", propagate=False)
        try:
            with (
                request_context.request_scope("hakodate", "req-fast"),
                run.client_telemetry.tracer.start_as_current_span("hot path") as root,
            ):
                reply = await channel.unary_unary(f"/{SERVICE}/Whoami")(
                    b"", metadata=outgoing_metadata(), timeout=5
                )
        finally:
            await channel.close()
        assert reply.decode() == f"hakodate|req-fast|{root.get_span_context().trace_id:032x}"
        (server_span,) = run.server_spans.get_finished_spans()
        assert (
            server_span.parent is not None and server_span.parent.span_id == root.get_span_context().span_id
        )


async def test_caller_metadata_wins_over_context() -> None:
    async with running_server() as run:
        token = request_context.set_tenant("sapporo")
        try:
            reply = await run.method("Whoami")(b"", metadata=(("ngsild-tenant", "otaru"),), timeout=5)
        finally:
            request_context.reset_tenant(token)
        assert reply.decode().startswith("otaru|")


async def test_server_context_does_not_leak_between_calls() -> None:
    async with running_server() as run:
        token = request_context.set_tenant("sapporo")
        try:
            await run.method("Whoami")(b"", timeout=5)
        finally:
            request_context.reset_tenant(token)
        reply = await run.method("Whoami")(b"", timeout=5)
        assert reply.decode().startswith("||")


async def test_streaming_handlers_are_traced_with_tenant() -> None:
    async with running_server() as run:
        call = run.channel.unary_stream(f"/{SERVICE}/Count")(b"3", metadata=(("ngsild-tenant", "kushiro"),))
        assert [item async for item in call] == [b"kushiro:0", b"kushiro:1", b"kushiro:2"]
        (span,) = run.server_spans.get_finished_spans()
        assert span.name == f"{SERVICE}/Count"
        assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 0


async def test_errors_set_status_and_metrics() -> None:
    async with running_server() as run:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await run.method("Missing")(b"", timeout=5)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as broken:
            await run.method("Broken")(b"", timeout=5)
        assert broken.value.code() == grpc.StatusCode.UNKNOWN
        await run.method("Whoami")(b"", timeout=5)

        spans = {s.name.rsplit("/", 1)[1]: s for s in run.server_spans.get_finished_spans()}
        assert spans["Missing"].attributes is not None
        assert spans["Missing"].attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
        # A caller's mistake is not a server fault; an unhandled exception is.
        assert spans["Missing"].status.status_code is StatusCode.UNSET
        assert spans["Broken"].status.status_code is StatusCode.ERROR
        assert [e.name for e in spans["Broken"].events] == ["exception"]
        client_missing = next(s for s in run.client_spans.get_finished_spans() if s.name.endswith("/Missing"))
        assert client_missing.status.status_code is StatusCode.ERROR

        data = run.metrics.get_metrics_data()
        assert data is not None
        metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        durations = {
            (p.attributes["rpc.method"], p.attributes["rpc.grpc.status_code"]): p.count
            for p in metrics["rpc.server.duration"].data.data_points
        }
        assert durations == {("Missing", 5): 1, ("Broken", 2): 1, ("Whoami", 0): 1}
        errors = {p.attributes["rpc.method"]: p.value for p in metrics["rpc.server.errors"].data.data_points}
        assert errors == {"Missing": 1, "Broken": 1}


async def test_raised_problem_reaches_the_caller_as_problem_details() -> None:
    async with running_server() as run:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await run.method("Invalid")(b"x y", timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        problem = problem_from_rpc_error(info.value)
        assert problem.kind == "BadRequestData"
        assert problem.status == 400
        assert problem.detail == "invalid entity id 'x y'"


async def test_streaming_client_span_ends_with_the_call() -> None:
    async with running_server() as run:
        call = run.channel.unary_stream(f"/{SERVICE}/Count")(b"2")
        assert len([item async for item in call]) == 2
        await poll(lambda: any(s.name.endswith("/Count") for s in run.client_spans.get_finished_spans()))
        (span,) = [s for s in run.client_spans.get_finished_spans() if s.name.endswith("/Count")]
        assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 0
        assert span.status.status_code is StatusCode.UNSET


async def test_client_streaming_with_write_api_is_traced() -> None:
    async with running_server() as run:
        call = run.channel.stream_unary(f"/{SERVICE}/Total")(timeout=5)
        for n in (b"1", b"2", b"39"):
            await call.write(n)
        await call.done_writing()
        assert await call == b"42"
        await poll(lambda: any(s.name.endswith("/Total") for s in run.client_spans.get_finished_spans()))
        client_span = next(s for s in run.client_spans.get_finished_spans() if s.name.endswith("/Total"))
        (server_span,) = run.server_spans.get_finished_spans()
        assert server_span.parent is not None and server_span.parent.span_id == client_span.context.span_id


async def test_cancelled_stream_ends_its_span_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    async with running_server() as run:
        call = run.channel.unary_stream(f"/{SERVICE}/Endless")(b"", timeout=5)
        assert await call.read() == b"tick"
        call.cancel()
        await poll(lambda: len(run.server_spans.get_finished_spans()) == 1)
        (span,) = run.server_spans.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
        assert span.events == ()
        assert run.service.stream_closed.is_set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def poll(check: Any, timeout: float = 5.0) -> None:
    """Wait until `check()` is true (the client span ends from a done-callback task)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_port_already_in_use_is_reported() -> None:
    async with running_server() as run:
        other = GrpcServer("echo", "127.0.0.1", run.server.port or 0, setup_telemetry("echo"))
        try:
            with pytest.raises(OSError, match="cannot bind"):
                await other.start()
        finally:
            await other.stop(grace=0)


async def test_serve_until_signal_stops_gracefully_on_sigterm() -> None:
    telemetry = setup_telemetry("echo")
    server = GrpcServer("echo", "127.0.0.1", 0, telemetry)
    previous = signal.getsignal(signal.SIGTERM)
    serving = asyncio.ensure_future(server.serve_until_signal(grace=1.0))
    # Only signal once the loop's handler is installed, or SIGTERM would end the test process.
    await poll(lambda: server.port is not None and signal.getsignal(signal.SIGTERM) is not previous)
    channel = create_channel(f"127.0.0.1:{server.port}")
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 5)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        telemetry.shutdown()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
