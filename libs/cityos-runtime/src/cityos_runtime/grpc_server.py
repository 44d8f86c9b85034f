"""grpc.aio server bootstrap: stock health and reflection, telemetry interceptor, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cityos_runtime.config import ConfigError, env_float
from cityos_runtime.server_interceptor import ServerCallInterceptor
from cityos_runtime.telemetry import Telemetry

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Accept client keepalive pings every 20 s (the channel default in grpc_client) without a GOAWAY.
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Fail fast when the port is taken instead of silently sharing it with another process.
    ("grpc.so_reuseport", 0),
)

# Short enough that new pods get traffic within minutes of a scale-up; long enough that reconnecting costs
# nothing measurable. The grace covers the gateway's default request timeout (30 s).
DEFAULT_MAX_CONNECTION_AGE = 300.0
DEFAULT_MAX_CONNECTION_AGE_GRACE = 30.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionAge:
    """How long a client's connection lives before the server asks it to reconnect (GOAWAY).

    A client resolves the server's name again only when a connection closes: a bounded age lets a
    round_robin client (the gateway on a headless Service) find broker pods added since it connected. gRPC
    adds +-10 % jitter, so a fleet of clients does not reconnect at once; calls in flight get `grace`.
    """

    max_age: float = DEFAULT_MAX_CONNECTION_AGE  # seconds; 0: as long as the client keeps the connection
    grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE  # seconds calls in flight may run past the age

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConnectionAge:
        """Read GRPC_MAX_CONNECTION_AGE and GRPC_MAX_CONNECTION_AGE_GRACE (seconds); ConfigError if bad."""
        age = cls(
            max_age=env_float(
                "GRPC_MAX_CONNECTION_AGE", DEFAULT_MAX_CONNECTION_AGE, min_value=0, environ=environ
            ),
            grace=env_float(
                "GRPC_MAX_CONNECTION_AGE_GRACE",
                DEFAULT_MAX_CONNECTION_AGE_GRACE,
                min_value=0,
                environ=environ,
            ),
        )
        if age.max_age > 0 and age.grace <= 0:
            raise ConfigError(
                "environment variable GRPC_MAX_CONNECTION_AGE_GRACE must be > 0 while "
                "GRPC_MAX_CONNECTION_AGE is set: calls in flight when a connection ages out would be cut"
            )
        return age

    def options(self) -> tuple[tuple[str, int], ...]:
        """The grpc.aio server options (none when the age is unbounded)."""
        if self.max_age <= 0:
            return ()
        return (
            ("grpc.max_connection_age_ms", max(1, round(self.max_age * 1000))),
            ("grpc.max_connection_age_grace_ms", max(1, round(self.grace * 1000))),
        )


Register = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """One service's grpc.aio server: add servicers, start, then stop gracefully (health flips first)."""

    def __init__(
        self,
        service_name: str,
        host: str,
        port: int,
        telemetry: Telemetry,
        *,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        options: Sequence[tuple[str, int | str]] = (),
        connection_age: ConnectionAge | None = None,
    ) -> None:
        """`connection_age` None reads ConnectionAge.from_env() (raising ConfigError for a bad value)."""
        self.service_name = service_name
        self._address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
        age = ConnectionAge.from_env() if connection_age is None else connection_age
        self._server = grpc.aio.server(
            interceptors=[ServerCallInterceptor(telemetry), *interceptors],
            options=[*SERVER_OPTIONS, *age.options(), *options],
        )
        self._health = health.aio.HealthServicer()
        self._service_names: list[str] = []
        self._port: int | None = None
        self._stopping = False

    @property
    def server(self) -> grpc.aio.Server:
        """The underlying grpc.aio server."""
        return self._server

    @property
    def health(self) -> health.aio.HealthServicer:
        """The stock async health servicer (e.g. to report a dependency outage as NOT_SERVING)."""
        return self._health

    @property
    def port(self) -> int | None:
        """The bound port once started, else None."""
        return self._port

    def add(self, register: Register, service_full_names: Iterable[str]) -> None:
        """Register servicers (`lambda s: add_BrokerServicer_to_server(impl, s)`) under their full names."""
        if self._port is not None:
            raise RuntimeError("servicers must be added before the server starts")
        register(self._server)
        self._service_names.extend(service_full_names)

    async def start(self) -> int:
        """Bind, start serving and report SERVING; returns the bound port (port 0 picks a free one)."""
        if self._port is not None:
            raise RuntimeError("server already started")
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (
                *self._service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            self._server,
        )
        try:
            port: int = self._server.add_insecure_port(self._address)
        except RuntimeError as exc:
            raise OSError(f"cannot bind gRPC server to {self._address}: {exc}") from exc
        if port == 0:
            raise OSError(f"cannot bind gRPC server to {self._address}")
        await self._server.start()
        for name in ("", *self._service_names):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._port = port
        _log.info("gRPC server %s listening on %s (port %d)", self.service_name, self._address, port)
        return port

    async def stop(self, grace: float = 10.0, *, drain_delay: float = 0.0) -> None:
        """Report NOT_SERVING, wait `drain_delay` for balancers to notice, then let in-flight calls finish.

        New calls are refused once stopping begins; calls still running after `grace` seconds are cancelled.
        """
        if self._stopping:
            return
        self._stopping = True
        await self._health.enter_graceful_shutdown()
        if drain_delay > 0:
            await asyncio.sleep(drain_delay)
        _log.info("gRPC server %s stopping (grace %.1fs)", self.service_name, grace)
        await self._server.stop(grace)

    async def serve_until_signal(self, grace: float = 10.0, *, drain_delay: float = 0.0) -> None:
        """Start if needed, run until SIGTERM or SIGINT arrives, then stop gracefully."""
        if self._port is None:
            await self.start()
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, received.set)
        try:
            await received.wait()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await self.stop(grace, drain_delay=drain_delay)
