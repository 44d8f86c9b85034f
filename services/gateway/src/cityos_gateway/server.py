"""Start-up and shutdown: logging, telemetry, the Broker channel, the app, uvicorn on a bound socket."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import uvicorn
from cityos.broker.v1.broker_pb2_grpc import BrokerStub
from cityos.identity.v1.identity_pb2_grpc import IdentityStub
from cityos_runtime.grpc_calls import PropagatingChannel
from cityos_runtime.grpc_client import ROUND_ROBIN, balanced_target, create_channel
from cityos_runtime.observability import start_observability
from cityos_runtime.redis_connect import connect_redis

from cityos_gateway.app import GatewayApp, create_app
from cityos_gateway.config import GatewaySettings
from cityos_gateway.health import BrokerReadiness
from cityos_gateway.security.oidc import Enforcement, build_enforcement, open_enforcement

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

_log = logging.getLogger("cityos.gateway")
_BACKLOG = 2048


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port, which `getsockname()` then reports."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=_BACKLOG)


def listening_url(sock: socket.socket) -> str:
    """The http:// URL a bound socket serves on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server that logs the real URL once its sockets listen."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT / SIGTERM start a graceful stop; unlike uvicorn's own, they are not re-raised after it,
        so a clean shutdown exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and sockets:
            _log.info("listening", extra={"event": "listening", "url": listening_url(sockets[0])})


def uvicorn_server(app: GatewayApp, settings: GatewaySettings) -> uvicorn.Server:
    """uvicorn with httptools, no access log of its own (the app writes one), our logging untouched."""
    config = uvicorn.Config(
        app,
        http="httptools",
        loop="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.request_timeout) + 1,
    )
    return _Server(config)


async def serve(settings: GatewaySettings) -> None:
    """Run the gateway until SIGTERM / SIGINT, then drain and close the Broker channel."""
    common = settings.common
    telemetry = start_observability(common)
    # Every request makes a broker call: no interceptor chain (the stub adds trace context, tenant and
    # request id itself, see cityos_runtime.grpc_calls), and calls spread over every broker address.
    channel = create_channel(balanced_target(settings.broker_address), propagate=False, options=ROUND_ROBIN)
    identity_channel = create_channel(settings.identity_address, telemetry)
    identity = cast("IdentityAsyncStub", IdentityStub(identity_channel))
    enforcement = _enforcement(settings, identity)
    try:
        sock = bind_socket(settings.host, settings.port)
        await enforcement.start()
        broker_ready = BrokerReadiness(channel)

        async def ready() -> bool:
            # Ready when the broker serves and, in oidc mode, the signing keys are known.
            return await broker_ready() and await enforcement.ready()

        app = create_app(
            settings,
            cast("BrokerAsyncStub", BrokerStub(PropagatingChannel(channel, telemetry))),
            readiness=ready,
            telemetry=telemetry,
            identity=identity,
            enforcement=enforcement,
        )
        server = uvicorn_server(app, settings)
        _tune_gc()
        await server.serve(sockets=[sock])
    finally:
        await enforcement.close()
        await identity_channel.close()
        await channel.close()
        telemetry.shutdown()


def _tune_gc() -> None:
    """Keep the cyclic collector off the request path, as the broker does (cityos_broker.server)."""
    # Everything built at start-up (modules, protos, the app, clients) moves out of every later collection,
    # and generation 0 is collected every 50,000 net allocations instead of 700: a request's objects are
    # freed by reference counting, so the collector mostly re-traversed start-up objects.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _enforcement(settings: GatewaySettings, identity: IdentityAsyncStub) -> Enforcement:
    """Open mode (development, loudly) or OIDC enforcement with Redis-shared rate limits."""
    if settings.auth_mode == "open":
        return open_enforcement()
    redis = None
    if settings.redis is not None and settings.rate_limit is not None:
        redis = connect_redis(settings.redis)
    _log.info(
        "authentication: oidc",
        extra={
            "event": "auth_mode",
            "issuer": settings.identity_issuer,
            "identity": settings.identity_address,
        },
    )
    return build_enforcement(settings, identity, redis)
