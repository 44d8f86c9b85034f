"""A grpc.aio server interceptor: one span and duration sample per RPC, tenant and request id in context.

It also turns a ProblemError that escapes a handler into the matching gRPC status with the ProblemDetails
in trailing metadata (see problems.abort_with_problem), so servicers may simply raise it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from cityos_runtime import request_context
from cityos_runtime.metadata import REQUEST_ID, TENANT
from cityos_runtime.problems import ProblemError, abort_with_problem
from cityos_runtime.telemetry import Telemetry

# Probes and tooling would drown real traffic in spans: they pass through untraced.
UNTRACED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
# Codes that mean the server failed (OpenTelemetry RPC conventions); others are the caller's error.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_MAX_CACHED_METHODS = 1024
# Ways a call ends that are not a handler bug: abort with a status, client cancel, abandoned stream.
_QUIET_ERRORS = (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit)

Behavior = Callable[..., Any]


class _Call:
    """What one RPC opened (span, context tokens to restore or None, start time) and must close."""

    __slots__ = ("otel_token", "request_token", "span", "started", "tenant_token")

    def __init__(self, span: trace.Span, otel_token: Any, tenant_token: Any, request_token: Any) -> None:
        self.span = span
        self.otel_token = otel_token
        self.tenant_token = tenant_token
        self.request_token = request_token
        self.started = time.perf_counter()


class ServerCallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Traces each RPC from the caller's W3C traceparent, records rpc.server.* metrics, binds tenant/id."""

    def __init__(self, telemetry: Telemetry, untraced_prefixes: Sequence[str] = UNTRACED_PREFIXES) -> None:
        self._tracer = telemetry.tracer
        self._propagator = telemetry.propagator
        self._untraced = tuple(untraced_prefixes)
        self._duration = telemetry.meter.create_histogram(
            "rpc.server.duration", unit="ms", description="Duration of inbound RPCs"
        )
        self._errors = telemetry.meter.create_counter(
            "rpc.server.errors", unit="{call}", description="Inbound RPCs that ended with a non-OK status"
        )
        # method -> (original, wrapped handler): wrapping once per method keeps calls allocation-light.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._attributes: dict[tuple[str, int], dict[str, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(self._untraced):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        if len(self._wrapped) < _MAX_CACHED_METHODS:
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The same handler with its behaviour run inside _begin/_end."""
        service, _, name = method.lstrip("/").rpartition("/")
        span_name = method.lstrip("/")
        span_attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }

        def begin(context: grpc.aio.ServicerContext, restore: bool) -> _Call:
            return self._begin(span_name, span_attributes, context, restore)

        def end(call: _Call, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
            self._end(method, service, name, call, context, error)

        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, begin, end), **kwargs)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_unary(handler.stream_unary, begin, end), **kwargs)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, begin, end), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, begin, end), **kwargs)

    def _begin(
        self,
        span_name: str,
        attributes: dict[str, str],
        context: grpc.aio.ServicerContext,
        restore: bool,
    ) -> _Call:
        """Open the span and bind trace context, tenant and request id; `restore` keeps tokens to undo it."""
        carrier: dict[str, str] = {}
        tenant = request_id = ""
        for key, value in context.invocation_metadata() or ():
            if key == "traceparent" or key == "tracestate":
                carrier[key] = value
            elif key == TENANT:
                tenant = value
            elif key == REQUEST_ID:
                request_id = value
        parent = self._propagator.extract(carrier) if carrier else None
        span = self._tracer.start_span(span_name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
        otel_token = otel_context.attach(trace.set_span_in_context(span, parent))
        tenant_token = request_context.set_tenant(tenant)
        request_token = request_context.set_request_id(request_id)
        if not restore:
            return _Call(span, None, None, None)
        return _Call(span, otel_token, tenant_token, request_token)

    def _end(
        self,
        method: str,
        service: str,
        name: str,
        call: _Call,
        context: grpc.aio.ServicerContext,
        error: BaseException | None,
    ) -> None:
        code = _status_code(context, error)
        span = call.span
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if error is not None and not isinstance(error, _QUIET_ERRORS):
            span.record_exception(error)
        if code in _SERVER_FAULTS:
            span.set_status(Status(StatusCode.ERROR, code.name))
        attributes = self._attributes.get((method, code.value[0]))
        if attributes is None:
            attributes = {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": name,
                "rpc.grpc.status_code": code.value[0],
            }
            if len(self._attributes) < _MAX_CACHED_METHODS * 4:
                self._attributes[(method, code.value[0])] = attributes
        self._duration.record((time.perf_counter() - call.started) * 1000.0, attributes)
        if code is not grpc.StatusCode.OK:
            self._errors.add(1, attributes)
        span.end()
        if call.otel_token is not None:
            otel_context.detach(call.otel_token)
            request_context.reset_request_id(call.request_token)
            request_context.reset_tenant(call.tenant_token)


def _status_code(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status the call ends with: the one set on the context, or what grpc makes of the exception."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK


Begin = Callable[[Any, bool], _Call]
End = Callable[[_Call, Any, BaseException | None], None]


def _unary(behavior: Behavior, begin: Begin, end: End) -> Behavior:
    """Wrap a handler that returns one response (unary-unary or stream-unary)."""

    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = begin(context, True)
        error: BaseException | None = None
        try:
            try:
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            except ProblemError as problem:
                await abort_with_problem(context, problem)
        except BaseException as exc:
            error = exc
            raise
        finally:
            end(call, context, error)

    return wrapper


def _streaming(behavior: Behavior, begin: Begin, end: End) -> Behavior:
    """Wrap a handler that streams responses: an async generator, or a coroutine using context.write."""
    if inspect.isasyncgenfunction(behavior):

        async def generator(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            # grpc.aio runs each RPC in its own task, so values bound here end with it. They are not reset:
            # a generator abandoned mid-stream (client cancel) is closed later from another context, where
            # resetting would fail.
            call = begin(context, False)
            error: BaseException | None = None
            try:
                try:
                    # aclosing: a cancelled stream runs the handler's cleanup now, not at garbage collection.
                    async with aclosing(behavior(request, context)) as responses:
                        async for response in responses:
                            yield response
                except ProblemError as problem:
                    await abort_with_problem(context, problem)
            except BaseException as exc:
                error = exc
                raise
            finally:
                end(call, context, error)

        return generator
    return _unary(behavior, begin, end)
