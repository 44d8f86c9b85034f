"""Fixtures for the notification tests: a real webhook receiver and brokers tuned for quick retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

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
    delay: float = 0.0
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
                if self.delay:
                    await asyncio.sleep(self.delay)
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
async def broker(redis_url: str, start_broker: Any) -> AsyncIterator[tuple[str, Any]]:
    """The `client` fixture's broker, started with the notifier tuned for tests."""
    async with start_broker(redis_url, **NOTIFY_ENV) as started:
        yield started


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
