"""Fixtures for the notification tests: a real webhook receiver and brokers tuned for quick retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from cityos_broker.ngsild.contexts import ContextResolver
from cityos_broker.server import connect_redis
from cityos_broker.store import Store
from cityos_broker.subscriptions.settings import NotifierSettings
from cityos_broker.subscriptions.store import SubscriptionStore
from cityos_broker.subscriptions.worker import NotifierWorker
from cityos_runtime.redis_connect import RedisSettings
from redis.asyncio import Redis

# Loopback endpoints are allowed (tests only), retries and take-over are fast, new tenants are seen quickly.
NOTIFY_ENV = {
    "BROKER_ALLOW_PRIVATE_URLS": "true",
    "BROKER_NOTIFY_TENANT_REFRESH": "0.2",
    "BROKER_NOTIFY_CLAIM_IDLE": "1",
    "BROKER_NOTIFY_BACKOFF": "0.05",
    "BROKER_NOTIFY_BACKOFF_MAX": "0.2",
    "BROKER_NOTIFY_MAX_ATTEMPTS": "3",
    "BROKER_NOTIFY_TIMEOUT": "2",
}


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    """A tiny asyncio HTTP/1.1 server on 127.0.0.1:0 that records POSTs and answers a chosen status."""

    requests: list[Received] = field(default_factory=list)
    status: Callable[[Received], int] = lambda _: 204
    hold: asyncio.Event | None = None  # when set, requests wait for it before being answered
    arrived: int = 0  # requests seen, answered or not
    port: int = 0

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(path, headers, orjson.loads(raw) if raw else None)
                self.arrived += 1
                if self.hold is not None:
                    await self.hold.wait()
                self.requests.append(received)
                status = self.status(received)
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
def notify_env() -> dict[str, str]:
    """Broker environment of the notification tests."""
    return dict(NOTIFY_ENV)


@pytest.fixture
async def broker(redis_env: dict[str, str], start_broker: Any) -> AsyncIterator[tuple[str, Any]]:
    """The `client` fixture's broker, started with the notifier tuned for tests."""
    async with start_broker(redis_env["REDIS_URL"], **redis_env, **NOTIFY_ENV) as started:
        yield started


@pytest.fixture
async def workers(redis_env: dict[str, str]) -> AsyncIterator[Callable[..., Awaitable[NotifierWorker]]]:
    """`await workers(**settings)` starts a notifier worker on its own Redis client; all stop at the end."""
    started: list[tuple[NotifierWorker, Redis, ContextResolver]] = []

    async def start(**overrides: Any) -> NotifierWorker:
        redis = connect_redis(RedisSettings.from_env(environ=redis_env))
        quick: dict[str, Any] = {
            "tenant_refresh": 0.2,
            "claim_idle": 1.0,
            "backoff": 0.05,
            "backoff_max": 0.2,
            "max_attempts": 3,
            "timeout": 2.0,
        }
        settings = replace(NotifierSettings(), **{**quick, **overrides})
        store = Store.over(redis)
        resolver = ContextResolver(
            hosted=store.contexts, fetch_timeout=2, max_bytes=1 << 20, allow_private=True
        )
        worker = NotifierWorker(
            redis,
            SubscriptionStore(redis),
            store.entities,
            resolver,
            settings,
            allow_private_urls=True,
            max_limit=1000,
        )
        await worker.start()
        started.append((worker, redis, resolver))
        return worker

    try:
        yield start
    finally:
        for worker, redis, resolver in started:
            await worker.stop()
            await resolver.aclose()
            await redis.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A running webhook receiver."""
    hook = WebhookReceiver()
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    try:
        yield hook
    finally:
        server.close()
        await server.wait_closed()
