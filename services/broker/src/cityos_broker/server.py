"""Start-up and shutdown: logging, telemetry, Redis, the context resolver and the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, field

from cityos_runtime.grpc_server import GrpcServer
from cityos_runtime.observability import start_observability
from cityos_runtime.redis_connect import RedisClient, RedisSettings
from cityos_runtime.redis_connect import connect_redis as connect
from cityos_runtime.telemetry import Telemetry
from grpc_health.v1 import health_pb2
from redis.exceptions import RedisError

from cityos_broker.broker import Broker
from cityos_broker.config import BrokerSettings
from cityos_broker.ngsild.contexts import ContextResolver
from cityos_broker.servicer import SERVICE_NAME, BrokerServicer, register
from cityos_broker.store import Store
from cityos_broker.store.stream_trim import StreamTrimJob
from cityos_broker.subscriptions.identity import notification_policy
from cityos_broker.subscriptions.store import SubscriptionStore
from cityos_broker.subscriptions.worker import NotifierWorker
from cityos_broker.temporal.runtime import TemporalRuntime, replica_name

_log = logging.getLogger("cityos.broker")
SHUTDOWN_GRACE_SECONDS = 10.0
HEALTH_INTERVAL_SECONDS = 5.0


def connect_redis(settings: RedisSettings) -> RedisClient:
    """The Redis client every store component shares (raw bytes: orjson decodes them directly)."""
    # Timeouts turn a hung Redis into a prompt 503 instead of calls that wait for the gateway's deadline.
    return connect(
        settings,
        decode_responses=False,
        health_check_interval=30,
        socket_keepalive=True,
        socket_connect_timeout=5,
        socket_timeout=10,
    )


@dataclass(slots=True)
class BrokerServer:
    """A built broker: its gRPC server and the clients it must close on shutdown."""

    grpc: GrpcServer
    redis: RedisClient
    resolver: ContextResolver
    store: Store
    health_interval: float = HEALTH_INTERVAL_SECONDS
    temporal: TemporalRuntime | None = None
    notifier: NotifierWorker | None = None
    trimmer: StreamTrimJob | None = None
    _watch: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> int:
        """Check Redis, load the scripts and serve; returns the bound port."""
        try:
            await self.redis.ping()
            await self.store.entities.load_scripts()
        except RedisError as error:
            raise OSError(f"Redis is not reachable: {type(error).__name__}: {error}") from error
        port = await self.grpc.start()
        if self.temporal is not None:
            await self.temporal.start()
        if self.notifier is not None:
            await self.notifier.start()
        if self.trimmer is not None:
            self.trimmer.start()  # after the consumer groups exist, so they bound the first trim
        self._watch = asyncio.create_task(self._watch_redis(), name="broker-redis-health")
        return port

    async def _watch_redis(self) -> None:
        """Report NOT_SERVING while Redis does not answer, so balancers route around this replica."""
        serving = True
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                await asyncio.wait_for(self.redis.ping(), timeout=self.health_interval)
                healthy = True
            except (RedisError, OSError, TimeoutError):
                healthy = False
            if healthy != serving:
                serving = healthy
                _log.warning("Redis %s", "answers again" if healthy else "does not answer: NOT_SERVING")
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if healthy
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for name in ("", SERVICE_NAME):
                    await self.grpc.health.set(name, status)

    async def close_clients(self) -> None:
        """Stop the health watch and close the HTTP and Redis clients."""
        if self.trimmer is not None:
            await self.trimmer.stop()
        if self.temporal is not None:
            await self.temporal.stop()  # read but unacknowledged changes stay pending for the next start
        if self.notifier is not None:
            await self.notifier.stop()  # unacknowledged notifications stay pending in Redis
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.resolver.aclose()
        await self.redis.aclose()

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop serving (health flips first), then close the clients."""
        try:
            await self.grpc.stop(grace)
        finally:
            await self.close_clients()


def build_server(settings: BrokerSettings, telemetry: Telemetry) -> BrokerServer:
    """Wire the store, resolver, use cases and servicer into a gRPC server (not started)."""
    redis = connect_redis(settings.redis)
    store = Store.over(redis)
    resolver = ContextResolver(
        hosted=store.contexts,
        fetch_timeout=settings.context_fetch_timeout,
        max_bytes=settings.context_max_bytes,
        allow_private=settings.allow_private_urls,
    )
    subscriptions = SubscriptionStore(redis)
    temporal = TemporalRuntime.build(redis, settings.temporal)
    servicer = BrokerServicer(
        Broker(settings, store, resolver, temporal=temporal, subscriptions=subscriptions)
    )
    server = GrpcServer(settings.common.service_name, settings.grpc_host, settings.grpc_port, telemetry)
    server.add(register(servicer), [SERVICE_NAME])
    notifier = None
    if settings.notifier.enabled:
        notifier = NotifierWorker(
            redis,
            subscriptions,
            store.entities,
            resolver,
            settings.notifier,
            allow_private_urls=settings.allow_private_urls,
            max_limit=settings.max_limit,
            policy=notification_policy(settings.notifier, resolver.core, telemetry),
            tracer=telemetry.tracer,
            meter=telemetry.meter,
        )
    trimmer = StreamTrimJob(redis, owner=replica_name(), ungrouped_cap=settings.changes_maxlen)
    return BrokerServer(server, redis, resolver, store, notifier=notifier, temporal=temporal, trimmer=trimmer)


def _tune_gc() -> None:
    """Keep the cyclic collector off the request path (called once the broker has started)."""
    # The profile of batch upserts (loadtests/README.md) put 24.5 % of the broker's busy samples in the
    # cyclic collector: parsing 1,000 entities allocates far more containers than the default gen-0
    # threshold of 700, so collections ran many times per request and the older generations, which hold
    # the long-lived start-up objects, were traversed again and again. Freezing moves those (modules,
    # protos, scripts, contexts) out of every later collection, and a larger gen-0 threshold makes
    # collections rarer; request objects are freed by reference counting, not by the collector.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def serve(settings: BrokerSettings) -> None:
    """Run the broker until SIGTERM / SIGINT, then drain in-flight calls and close every client."""
    common = settings.common
    telemetry = start_observability(common)
    broker = build_server(settings, telemetry)
    try:
        port = await broker.start()
        _tune_gc()
        # The devstack reads this line to learn the port when BROKER_GRPC_PORT=0.
        _log.info("listening", extra={"event": "listening", "port": port})
        await broker.grpc.serve_until_signal(SHUTDOWN_GRACE_SECONDS)
    finally:
        await broker.close_clients()
        telemetry.shutdown()
