"""The raw ASGI application: routing, tenancy, auth hook, limits, errors, CORS, tracing, logs, metrics."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import grpc
from cityos_runtime import request_context
from cityos_runtime.logs import log_fields
from cityos_runtime.metadata import REQUEST_ID, TENANT
from cityos_runtime.problems import ProblemError, problem_from_rpc_error
from cityos_runtime.telemetry import Telemetry
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cityos_gateway.auth import ANONYMOUS_SUBJECT, Authenticator, OpenAuthenticator, Principal, check_tenant
from cityos_gateway.body import ClientDisconnected, read_body
from cityos_gateway.config import TENANT_NAME, GatewaySettings
from cityos_gateway.cors import CorsPolicy
from cityos_gateway.http import CONTENT_TYPE, JSON, Request, Response, parse_headers, problem_response
from cityos_gateway.identity.admin import ADMIN_BASE, AdminRoutes, check_admin_caller
from cityos_gateway.identity.oauth import MAX_FORM_BYTES, OAuthRoutes
from cityos_gateway.ngsild.batch import BatchRoutes
from cityos_gateway.ngsild.common import BASE
from cityos_gateway.ngsild.discovery import DiscoveryRoutes
from cityos_gateway.ngsild.entities import EntityRoutes
from cityos_gateway.ngsild.resources import ResourceRoutes
from cityos_gateway.params import parse_query
from cityos_gateway.router import Handler, Router
from cityos_gateway.security.access import UNRESTRICTED, Access, route_need
from cityos_gateway.security.oidc import Enforcement
from cityos_gateway.security.typeguard import TypeGuard

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[bool]]

_access_log = logging.getLogger("cityos.gateway.access")
_log = logging.getLogger("cityos.gateway")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_X_REQUEST_ID = b"x-request-id"
_NGSILD_TENANT = b"ngsild-tenant"
_CONTENT_LENGTH = b"content-length"
_ALLOW = b"allow"
_OK = b'{"status":"ok"}'
_NOT_READY = b'{"status":"unavailable"}'
_HEALTH_HEADERS = ((CONTENT_TYPE, JSON),)
_HEALTH_PATHS = frozenset({"/healthz", "/readyz"})


def create_app(
    settings: GatewaySettings,
    stub: BrokerAsyncStub,
    *,
    readiness: ReadinessCheck | None = None,
    authenticator: Authenticator | None = None,
    telemetry: Telemetry | None = None,
    identity: IdentityAsyncStub | None = None,
    enforcement: Enforcement | None = None,
) -> GatewayApp:
    """Build the gateway's ASGI app around one Broker stub (and the Identity stub, when given).

    `enforcement` (cityos_gateway.security.oidc) decides who may do what; without it,
    `authenticator` (default: open mode) and the plain tenant binding apply. With `identity` the OAuth
    endpoints and `/admin/v1` are served. Without `telemetry` spans and metrics go to the no-op providers.
    """
    enforcement = enforcement or Enforcement(authenticator or OpenAuthenticator())
    return GatewayApp(settings, stub, readiness, enforcement, telemetry, identity)


class GatewayApp:
    """The ASGI callable: every HTTP request becomes at most one Broker RPC."""

    def __init__(
        self,
        settings: GatewaySettings,
        stub: BrokerAsyncStub,
        readiness: ReadinessCheck | None,
        enforcement: Enforcement,
        telemetry: Telemetry | None,
        identity: IdentityAsyncStub | None = None,
    ) -> None:
        self._settings = settings
        self._readiness = readiness
        self._auth = enforcement.authenticator
        self._decider = enforcement.decider
        self._limiter = enforcement.limiter
        self._guard = TypeGuard(stub, settings.request_timeout)
        self._cors = CorsPolicy(settings.cors_origins)
        self._tracer = telemetry.tracer if telemetry else trace.get_tracer("cityos.gateway")
        meter = telemetry.meter if telemetry else metrics.get_meter("cityos.gateway")
        self._propagator = TraceContextTextMapPropagator()
        self._duration = meter.create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP server requests"
        )
        table: dict[str, dict[str, Handler]] = {}
        for group in (EntityRoutes, BatchRoutes, DiscoveryRoutes, ResourceRoutes):
            for template, handlers in group(stub, settings.request_timeout).routes().items():
                table[BASE + template] = handlers
        if identity is not None:
            table.update(OAuthRoutes(identity, settings.request_timeout).routes())
            decider = self._decider
            admin = AdminRoutes(
                identity, stub, settings.request_timeout, decider.tenant_changed if decider else _ignore
            )
            for template, handlers in admin.routes().items():
                table[ADMIN_BASE + template] = handlers
        self._router = Router(table)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = parse_headers(scope["headers"])
        method: str = scope["method"]
        raw_path = _raw_path(scope)
        request = Request(
            method, raw_path, headers, {}, request_id=_request_id(headers.get("x-request-id", ""))
        )
        request.raw_headers = scope["headers"]
        client = scope.get("client")
        request.client_ip = str(client[0]) if client else ""
        parent = self._propagator.extract(headers)
        with self._tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            id_token = request_context.set_request_id(request.request_id)
            try:
                response = await self._respond(request, scope, receive)
            except ClientDisconnected:
                return
            finally:
                request_context.reset_request_id(id_token)
                tenant_token = request.state.pop("tenant_token", None)
                if tenant_token is not None:
                    request_context.reset_tenant(tenant_token)
            self._finish(request, response)
            await send(
                {"type": "http.response.start", "status": response.status, "headers": response.headers}
            )
            await send({"type": "http.response.body", "body": response.body})
            duration = time.perf_counter() - started
            self._observe(span, request, response.status, duration)

    async def _respond(self, request: Request, scope: Scope, receive: Receive) -> Response:
        """Run the pipeline; every failure becomes a ProblemDetails response."""
        try:
            return await self._dispatch(request, scope, receive)
        except ProblemError as problem:
            return problem_response(problem)
        except grpc.aio.AioRpcError as error:
            return problem_response(problem_from_rpc_error(error))
        except ClientDisconnected:
            raise
        except Exception:
            _log.exception("unexpected error", extra={"request_id": request.request_id})
            return problem_response(ProblemError("InternalError", "internal error", status=500))

    async def _dispatch(self, request: Request, scope: Scope, receive: Receive) -> Response:
        path, method, headers = request.path, request.method, request.headers
        if path == "/healthz":
            request.route = path
            return Response(200, _OK, list(_HEALTH_HEADERS))
        if path == "/readyz":
            request.route = path
            ready = self._readiness is None or await self._readiness()
            return Response(200 if ready else 503, _OK if ready else _NOT_READY, list(_HEALTH_HEADERS))
        if self._cors.is_preflight(method, headers):
            return self._cors.preflight(headers["origin"])
        route, path_params = self._router.match(path)
        request.route = route.template
        handler = route.handlers.get(method)
        if handler is None:
            response = problem_response(
                ProblemError("MethodNotAllowed", f"{method} is not allowed on {route.template}")
            )
            response.headers.append((_ALLOW, route.allow.encode()))
            return response
        request.path_params = path_params
        raw_query: bytes = scope.get("query_string", b"")
        template = route.template
        if not template.startswith(BASE):
            return await self._identity_route(request, raw_query, receive, handler)
        request.query = parse_query(raw_query)
        self._bind_tenant(request)
        request.state["tenant_token"] = request_context.set_tenant(request.tenant)
        principal = await self._auth.authenticate(request)
        await self._rate_limit(principal, request)
        access = await self._authorize(principal, request, template[len(BASE) :])
        request.state["access"] = access  # subscription routes pass the caller on (ngsild/resources.py)
        await self._read_body(request, receive, self._settings.max_body_bytes)
        request.metadata = self._metadata(request)
        if not access.restricted:
            return await handler(request)
        trim = await self._guard.apply(request, access, template[len(BASE) :])
        response = await handler(request)
        return trim(response) if trim else response

    async def _identity_route(
        self, request: Request, raw_query: bytes, receive: Receive, handler: Handler
    ) -> Response:
        """The OAuth endpoints (identity authenticates) and the management API (a bearer token)."""
        request.query_string = raw_query.decode("latin-1")
        request.query = parse_query(raw_query)
        if request.route.startswith(ADMIN_BASE):
            principal = await self._auth.authenticate(request)
            if not principal.token:
                # Open mode checks nothing, but identity still authorises management calls by the
                # caller's own token: pass on whatever bearer token was sent.
                scheme, _, token = request.header("authorization").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    principal = dataclasses.replace(principal, token=token.strip())
            request.state["principal"] = principal
            check_admin_caller(principal, request.route)
            await self._rate_limit(principal, request)
            await self._read_body(request, receive, self._settings.max_body_bytes)
        else:
            # Sign-in and token requests are limited per client address (a brake on password guessing).
            await self._rate_limit(None, request)
            await self._read_body(request, receive, min(self._settings.max_body_bytes, MAX_FORM_BYTES))
        return await handler(request)

    async def _read_body(self, request: Request, receive: Receive, limit: int) -> None:
        if request.method in _BODY_METHODS:
            request.body = await read_body(receive, request.headers.get("content-length", ""), limit)

    async def _rate_limit(self, principal: Principal | None, request: Request) -> None:
        """Count the request against its client (anonymous callers: their address)."""
        if self._limiter is None:
            return
        if principal is None or principal.subject == ANONYMOUS_SUBJECT:
            await self._limiter.check("ip:" + request.client_ip)
        else:
            await self._limiter.check(principal.rate_key)

    async def _authorize(self, principal: Principal, request: Request, template: str) -> Access:
        """The tenant binding, scopes and entity-type policies (open mode: the tenant binding only)."""
        if self._decider is None:
            check_tenant(principal, request.tenant)
            return UNRESTRICTED
        return await self._decider.decide(principal, request.tenant, route_need(template, request.method))

    def _bind_tenant(self, request: Request) -> None:
        """NGSILD-Tenant, lowercased and validated; the default tenant when absent."""
        raw = request.headers.get("ngsild-tenant", "").strip()
        if not raw:
            request.tenant = self._settings.default_tenant
            return
        tenant = raw.lower()
        if not TENANT_NAME.fullmatch(tenant):
            raise ProblemError(
                "BadRequestData",
                "NGSILD-Tenant must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit",
            )
        request.tenant, request.tenant_given = tenant, True

    def _metadata(self, request: Request) -> tuple[tuple[str, str], ...]:
        """gRPC metadata: tenant and request id.

        The W3C trace context is added by the stub's channel (cityos_runtime.grpc_calls): the traceparent of
        this request's server span or, when spans are recorded, of a CLIENT span under it, so the broker's
        span nests under the hop.
        """
        return ((TENANT, request.tenant), (REQUEST_ID, request.request_id))

    def _finish(self, request: Request, response: Response) -> None:
        """Headers every response carries: length, request id, tenant echo, CORS."""
        extra = response.headers
        extra.append((_CONTENT_LENGTH, str(len(response.body)).encode()))
        extra.append((_X_REQUEST_ID, request.request_id.encode()))
        if request.tenant_given:
            extra.append((_NGSILD_TENANT, request.tenant.encode()))
        origin = request.headers.get("origin")
        if origin and self._cors.enabled:
            extra.extend(self._cors.headers(origin))

    def _observe(self, span: trace.Span, request: Request, status: int, duration: float) -> None:
        """Span attributes, the duration histogram and the access log line."""
        route = request.route
        trace_id = ""
        if span.is_recording():
            span.update_name(f"{request.method} {route}" if route else request.method)
            span.set_attributes(
                {
                    "http.request.method": request.method,
                    "url.path": request.path,
                    "http.route": route,
                    "http.response.status_code": status,
                    "cityos.request_id": request.request_id,
                    "cityos.tenant": request.tenant,
                }
            )
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        context = span.get_span_context()
        if context.is_valid:
            trace_id = format(context.trace_id, "032x")
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "http.response.status_code": status,
        }
        if route:
            attributes["http.route"] = route
        self._duration.record(duration, attributes)
        # Probes hit the health endpoints every few seconds: keep them out of the INFO access log.
        level = logging.DEBUG if route in _HEALTH_PATHS else logging.INFO
        log_fields(
            _access_log,
            level,
            "request",
            {
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "request_id": request.request_id,
                "tenant": request.tenant,
                "trace_id": trace_id,
            },
        )


def _ignore(tenant: str) -> None:
    """No policy cache to refresh (open mode)."""


def _raw_path(scope: Scope) -> str:
    """The still percent-encoded path (ASGI raw_path), without any query string."""
    raw: bytes | None = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").partition("?")[0]
    return str(scope["path"])


def _request_id(given: str) -> str:
    """The caller's X-Request-Id when it is sane, else a fresh one."""
    if given and _SANE_REQUEST_ID.fullmatch(given):
        return given
    return os.urandom(16).hex()


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge start-up and shutdown; the server owns the channel's life."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
