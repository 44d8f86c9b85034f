"""grpc.aio channels that carry trace context, tenant and request id to the next service."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cityos_runtime import request_context
from cityos_runtime.grpc_server import MAX_MESSAGE_BYTES
from cityos_runtime.metadata import REQUEST_ID, TENANT
from cityos_runtime.telemetry import Telemetry

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Keepalive pings find dead connections (a killed pod, a dropped NAT entry) within ~30 s.
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)
# Spread calls over every address a target resolves to (a comma list, or DNS names with several records:
# a Kubernetes headless Service), instead of pinning them to the first that answers.
ROUND_ROBIN: tuple[tuple[str, str], ...] = (("grpc.lb_policy_name", "round_robin"),)
_TRACE_KEYS = ("traceparent", "tracestate")
# Stateless: W3C trace-context encoding for callers without a Telemetry.
_W3C = TraceContextTextMapPropagator()

Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


class CallPropagation:
    """Adds traceparent, x-request-id and ngsild-tenant (unless the caller set them); spans with telemetry."""

    def __init__(self, telemetry: Telemetry | None = None) -> None:
        self._tracer = telemetry.tracer if telemetry is not None else None
        self._propagator: TextMapPropagator = telemetry.propagator if telemetry is not None else _W3C
        # Streaming spans end from a done-callback task; holding the tasks keeps them from being collected.
        self._finishing: set[asyncio.Task[None]] = set()

    def interceptors(self) -> list[Any]:
        """One interceptor per call kind: grpc.aio files each interceptor object under one kind only."""
        return [
            _UnaryUnary(self),
            _UnaryStream(self),
            _StreamUnary(self),
            _StreamStream(self),
        ]

    async def unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Run a call with one response; its span ends when the response (or error) arrives."""
        span = self._start_span(client_call_details)
        details = self._with_metadata(client_call_details, span)
        if span is None:
            return await continuation(details, request)
        try:
            call = await continuation(details, request)
            await call
        except grpc.aio.AioRpcError as exc:
            # The intercepted call re-raises this error when the caller awaits it; only record it here.
            _end_span(span, exc.code())
            return call
        except BaseException as exc:
            span.record_exception(exc)
            _end_span(span, grpc.StatusCode.CANCELLED if isinstance(exc, asyncio.CancelledError) else None)
            raise
        _end_span(span, grpc.StatusCode.OK)
        return call

    async def streaming(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Start a streaming call; its span ends when the call is done, whoever drives it."""
        span = self._start_span(client_call_details)
        details = self._with_metadata(client_call_details, span)
        if span is None:
            return await continuation(details, request)
        try:
            call = await continuation(details, request)
        except BaseException as exc:
            span.record_exception(exc)
            _end_span(span, None)
            raise

        def done(finished: Any) -> None:
            task = asyncio.get_running_loop().create_task(_end_span_with_status(span, finished))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

        call.add_done_callback(done)
        return call

    def _start_span(self, details: grpc.aio.ClientCallDetails) -> trace.Span | None:
        if self._tracer is None:
            return None
        method = _method_name(details)
        service, _, name = method.rpartition("/")
        return self._tracer.start_span(
            method,
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )

    def _with_metadata(
        self, details: grpc.aio.ClientCallDetails, span: trace.Span | None
    ) -> grpc.aio.ClientCallDetails:
        """A copy of `details` whose metadata also carries trace context, tenant and request id."""
        existing = details.metadata
        metadata = grpc.aio.Metadata(*existing) if existing else grpc.aio.Metadata()
        ctx = trace.set_span_in_context(span) if span is not None else None
        # A caller's own traceparent wins, and then our tracestate must not be mixed into it.
        has_trace = "traceparent" in metadata
        for key, value in outgoing_metadata(self._propagator, ctx):
            if key not in metadata and not (has_trace and key in _TRACE_KEYS):
                metadata.add(key, value)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, core: CallPropagation) -> None:
        self._core = core

    async def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._core.unary(continuation, client_call_details, request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, core: CallPropagation) -> None:
        self._core = core

    async def intercept_unary_stream(
        self, continuation: Continuation, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._core.streaming(continuation, client_call_details, request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, core: CallPropagation) -> None:
        self._core = core

    async def intercept_stream_unary(
        self,
        continuation: Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        # Not `unary`: awaiting the response here would deadlock a caller that writes with call.write().
        return await self._core.streaming(continuation, client_call_details, request_iterator)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, core: CallPropagation) -> None:
        self._core = core

    async def intercept_stream_stream(
        self,
        continuation: Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await self._core.streaming(continuation, client_call_details, request_iterator)


def outgoing_metadata(
    propagator: TextMapPropagator | None = None, context: otel_context.Context | None = None
) -> tuple[tuple[str, str], ...]:
    """traceparent/tracestate of the current span, tenant and request id, as gRPC call metadata.

    For hot paths that use a channel made with `create_channel(..., propagate=False)`: passing
    `metadata=outgoing_metadata()` carries the same context without the cost of client interceptors.
    """
    carrier: dict[str, str] = {}
    (propagator or _W3C).inject(carrier, context=context)
    items = [(key, carrier[key]) for key in _TRACE_KEYS if key in carrier]
    tenant = request_context.get_tenant()
    if tenant:
        items.append((TENANT, tenant))
    request_id = request_context.get_request_id()
    if request_id:
        items.append((REQUEST_ID, request_id))
    return tuple(items)


def _method_name(details: grpc.aio.ClientCallDetails) -> str:
    method = details.method
    return (method.decode() if isinstance(method, bytes) else str(method)).lstrip("/")


def _end_span(span: trace.Span, code: grpc.StatusCode | None) -> None:
    if code is not None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name if code is not None else "client error"))
    span.end()


async def _end_span_with_status(span: trace.Span, call: Any) -> None:
    if call.cancelled():
        _end_span(span, grpc.StatusCode.CANCELLED)
        return
    _end_span(span, await call.code())


def balanced_target(address: str) -> str:
    """The gRPC target for `address`: one target as given, or a comma list of IP:port as one target.

    A list becomes `ipv4:a:p,b:p` (or `ipv6:[a]:p,...`), which gRPC's round_robin policy spreads calls over.
    gRPC resolves names only one target at a time: several servers behind one name are reached with
    `dns:///name:port` (in Kubernetes, a headless Service). Raises ValueError for a list it cannot use.
    """
    parts = [part.strip() for part in address.split(",")]
    if len(parts) == 1:
        return address.strip()
    families: set[int] = set()
    for part in parts:
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r}: every address in a list needs a port (IP:port)")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            families.add(ipaddress.ip_address(host).version)
        except ValueError:
            raise ValueError(
                f"{part!r}: a list of addresses must be IP:port entries; for several servers behind one "
                "name use dns:///name:port"
            ) from None
    if len(families) != 1:
        raise ValueError("a list of addresses must be all IPv4 or all IPv6")
    return ("ipv4:" if families == {4} else "ipv6:") + ",".join(parts)


def create_channel(
    target: str,
    telemetry: Telemetry | None = None,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, int | str]] = (),
    interceptors: Sequence[Any] = (),
    propagate: bool = True,
) -> grpc.aio.Channel:
    """An aio channel to `target` ("host:port") with keepalive, 16 MiB messages and context propagation.

    With `telemetry` each call also gets a CLIENT span that the server's span hangs under. grpc.aio client
    interceptors cost an extra task per call (~15-20% of a trivial unary call): a hot path may pass
    `propagate=False` and send `metadata=outgoing_metadata()` on each call instead.
    """
    all_options = [*CHANNEL_OPTIONS, *options]
    propagation = CallPropagation(telemetry).interceptors() if propagate else []
    all_interceptors = [*propagation, *interceptors]
    if credentials is not None:
        return grpc.aio.secure_channel(
            target, credentials, options=all_options, interceptors=all_interceptors
        )
    return grpc.aio.insecure_channel(target, options=all_options, interceptors=all_interceptors)
