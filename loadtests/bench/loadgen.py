"""A fast closed-loop HTTP/1.1 load generator on raw asyncio transports, for loopback targets only.

N keep-alive connections each send one request, wait for its response, record the latency and send the
next, until a request count or a time limit is reached. Requests are plain bytes built by a callable from
the request's sequence number, so building them costs the generator as little CPU as possible: on a
2-core machine the generator competes with the stack it measures.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from loadtests.bench.http1 import HttpParseError, HttpResponse, ResponseParser
from loadtests.bench.stats import percentile

RequestFactory = Callable[[int], bytes]
# How long in-flight requests may still finish after the time limit before they count as timeouts.
_GRACE_S = 10.0
_ERROR_SAMPLES = 3


def loopback_target(url: str) -> tuple[str, int]:
    """(host, port) of an http:// URL on the loopback interface; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"the load generator needs an http://host:port URL, got {url!r}")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the load generator only targets loopback addresses, not {host!r}")
    return host, parts.port


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one run measured; throughput counts 2xx responses only, so errors never inflate a figure."""

    count: int
    ok: int
    errors: int
    transport_errors: int
    timeouts: int
    elapsed_s: float
    latencies_ms: tuple[float, ...] = field(repr=False)
    status_counts: dict[int, int]
    error_samples: tuple[str, ...]

    @property
    def throughput(self) -> float:
        """2xx responses per second."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def pct(self, value: float) -> float:
        """A latency percentile in milliseconds (every completed request, 2xx or not)."""
        return percentile(self.latencies_ms, value)


class _Budget:
    """Hands out request sequence numbers until the count or the deadline is reached."""

    def __init__(self, max_requests: int, deadline: float) -> None:
        self._next = 0
        self._max = max_requests
        self._deadline = deadline

    def take(self) -> int | None:
        if self._next >= self._max or time.perf_counter() >= self._deadline:
            return None
        number = self._next
        self._next += 1
        return number


class _Recorder:
    """Per-run counters shared by the connection workers (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.latencies = array("d")
        self.status_counts: dict[int, int] = {}
        self.transport_errors = 0
        self.error_samples: list[str] = []
        self.last_done = 0.0

    def response(self, seconds: float, response: HttpResponse) -> None:
        self.latencies.append(seconds * 1000.0)
        self.status_counts[response.status] = self.status_counts.get(response.status, 0) + 1
        self.last_done = time.perf_counter()
        if not 200 <= response.status < 300 and len(self.error_samples) < _ERROR_SAMPLES:
            self.error_samples.append(f"{response.status} {response.body[:300].decode('utf-8', 'replace')}")

    def failure(self, exc: BaseException) -> None:
        self.transport_errors += 1
        if len(self.error_samples) < _ERROR_SAMPLES:
            self.error_samples.append(f"transport: {type(exc).__name__}: {exc}")


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self._parser = ResponseParser()
        self._responses: deque[HttpResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._failure: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._responses.extend(self._parser.feed(data))
        except HttpParseError as exc:
            self._fail(exc)
            return
        if self._responses:
            self._wake()

    def eof_received(self) -> bool | None:
        try:
            last = self._parser.feed_eof()
        except HttpParseError as exc:
            self._fail(exc)
            return None
        if last is not None:
            self._responses.append(last)
        self._fail(ConnectionResetError("the server closed the connection"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionResetError("connection lost"))

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def exchange(self, request: bytes) -> HttpResponse:
        """Send one request and wait for its response."""
        if self._transport is None or self._failure is not None:
            raise self._failure or ConnectionResetError("not connected")
        self._transport.write(request)
        while not self._responses:
            if self._failure is not None:
                raise self._failure
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        return self._responses.popleft()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _worker(host: str, port: int, factory: RequestFactory, budget: _Budget, rec: _Recorder) -> None:
    loop = asyncio.get_running_loop()
    conn: _Connection | None = None
    try:
        while (number := budget.take()) is not None:
            request = factory(number)
            started = time.perf_counter()
            try:
                if conn is None:
                    _, conn = await loop.create_connection(_Connection, host, port)
                response = await conn.exchange(request)
            except (OSError, HttpParseError) as exc:
                rec.failure(exc)
                if conn is not None:
                    conn.close()
                conn = None
                await asyncio.sleep(0.01)  # a refused connection must not turn into a busy loop
                continue
            rec.response(time.perf_counter() - started, response)
            if not response.keep_alive:
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()


async def run_load(
    url: str,
    factory: RequestFactory,
    *,
    connections: int,
    max_requests: int,
    duration_s: float,
) -> LoadResult:
    """Drive `connections` closed-loop clients against `url` until `max_requests` or `duration_s`."""
    host, port = loopback_target(url)
    if connections < 1 or max_requests < 1 or duration_s <= 0:
        raise ValueError("connections, max_requests and duration_s must be positive")
    started = time.perf_counter()
    budget = _Budget(max_requests, started + duration_s)
    rec = _Recorder()
    tasks = [asyncio.create_task(_worker(host, port, factory, budget, rec)) for _ in range(connections)]
    _, pending = await asyncio.wait(tasks, timeout=duration_s + _GRACE_S)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure  # a bug in a request factory must not pass silently
    ok = sum(n for status, n in rec.status_counts.items() if 200 <= status < 300)
    count = len(rec.latencies)
    end = rec.last_done if rec.last_done > started else time.perf_counter()
    return LoadResult(
        count=count,
        ok=ok,
        errors=count - ok,
        transport_errors=rec.transport_errors,
        timeouts=len(pending),
        elapsed_s=end - started,
        latencies_ms=tuple(sorted(rec.latencies)),
        status_counts=dict(sorted(rec.status_counts.items())),
        error_samples=tuple(rec.error_samples),
    )


async def one_request(url: str, request: bytes, timeout_s: float = 30.0) -> HttpResponse:
    """Send one request on a fresh connection (set-up calls: subscriptions, temporal data)."""
    host, port = loopback_target(url)
    _, conn = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    try:
        return await asyncio.wait_for(conn.exchange(request), timeout_s)
    finally:
        conn.close()
