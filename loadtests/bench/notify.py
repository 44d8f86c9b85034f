"""The notification figure: subscribers on a loopback receiver, updates through the gateway, end-to-end delay.

Each update carries a unique sequence number in attribute `seq`; the receiver matches every notification to
the moment its update was sent, so the latency covers the whole path: gateway, broker write, change stream,
notifier, HTTP delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

import orjson

from loadtests.bench import figures as F
from loadtests.bench.http1 import HttpParseError
from loadtests.bench.loadgen import one_request, run_load
from loadtests.bench.stats import percentile
from loadtests.bench.workload import Requests

PROBE_TYPE = "BenchProbe"
_READY_TIMEOUT_S = 30.0  # the notifier looks for new tenants every few seconds
_DRAIN_TIMEOUT_S = 15.0
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class NotificationReceiver:
    """Counts notifications per subscriber path and the delay of each since its update was sent."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.latencies_ms: list[float] = []
        self.paths: dict[str, int] = {}
        self.unmatched = 0
        self.malformed = 0
        self.last_at = 0.0
        self._server: asyncio.Server | None = None
        self._expected = 0
        self._all_in = asyncio.Event()

    async def start(self) -> int:
        """Listen on a free loopback port; return it."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ReceiverProtocol(self), "127.0.0.1", 0)
        return cast(int, self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, expected: int) -> None:
        """Return once `expected` measured notifications have arrived."""
        self._expected = expected
        if len(self.latencies_ms) >= expected:
            return
        self._all_in.clear()
        await self._all_in.wait()

    def reset(self) -> None:
        """Forget the warm-up: only what follows is measured."""
        self.sent.clear()
        self.latencies_ms.clear()
        self.unmatched = self.malformed = 0

    def record(self, path: str, body: bytes) -> None:
        """One delivered notification (a batch of entities, each with the `seq` that caused it)."""
        now = time.perf_counter()
        self.paths[path] = self.paths.get(path, 0) + 1
        try:
            items = orjson.loads(body).get("data", [])
        except (orjson.JSONDecodeError, AttributeError):
            self.malformed += 1
            return
        for item in items:
            seq = item.get("seq") if isinstance(item, dict) else None
            if isinstance(seq, dict):  # normalized rather than keyValues
                seq = seq.get("value")
            sent = self.sent.get(seq) if isinstance(seq, int) else None
            if sent is None:
                self.unmatched += 1
                continue
            self.latencies_ms.append((now - sent) * 1000)
            self.last_at = now
        if self._expected and len(self.latencies_ms) >= self._expected:
            self._all_in.set()


class _ReceiverProtocol(asyncio.Protocol):
    """A keep-alive HTTP/1.1 server connection that answers every POST with 204."""

    def __init__(self, receiver: NotificationReceiver) -> None:
        self._receiver = receiver
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        try:
            while (request := _take_request(self._buf)) is not None:
                path, body = request
                self._receiver.record(path, body)
                if self._transport is not None:
                    self._transport.write(_NO_CONTENT)
        except HttpParseError:
            self._receiver.malformed += 1
            if self._transport is not None:
                self._transport.close()


def _take_request(buf: bytearray) -> tuple[str, bytes] | None:
    """Remove one complete request (Content-Length or chunked body) from `buf`: (path, body)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpParseError(f"bad request line {lines[0][:80]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    start = end + 4
    if headers.get("transfer-encoding", "").lower().endswith("chunked"):
        body, consumed = _dechunk(buf, start)
        if consumed < 0:
            return None
        del buf[:consumed]
        return parts[1], body
    length = int(headers.get("content-length", "0") or 0)
    if len(buf) < start + length:
        return None
    body = bytes(buf[start : start + length])
    del buf[: start + length]
    return parts[1], body


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int]:
    """The body of a chunked message starting at `pos` and where it ends; -1 while incomplete."""
    chunks: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return b"", -1
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0] or b"0", 16)
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", eol)
            return (b"".join(chunks), trailer_end + 4) if trailer_end >= 0 else (b"", -1)
        if len(buf) < eol + 2 + size + 2:
            return b"", -1
        chunks.append(bytes(buf[eol + 2 : eol + 2 + size]))
        pos = eol + 2 + size + 2


async def measure_notifications(
    req: Requests, url: str, *, subscribers: int, probes: int, connections: int, duration_s: float
) -> F.Figure:
    """Subscribe `subscribers` endpoints to the probes, PATCH them for `duration_s`, collect deliveries."""
    receiver = NotificationReceiver()
    port = await receiver.start()
    subscription_ids: list[str] = []
    try:
        probe_ids = [f"urn:ngsi-ld:{PROBE_TYPE}:bench-{i:04d}" for i in range(probes)]
        entities = [{"id": i, "type": PROBE_TYPE, "seq": {"type": "Property", "value": 0}} for i in probe_ids]
        created = await one_request(url, req.send("POST", "/entityOperations/upsert", entities))
        if created.status not in (201, 204):
            return _unavailable(subscribers, f"creating the probe entities answered {created.status}")
        for n in range(subscribers):
            answer = await one_request(url, req.send("POST", "/subscriptions", _subscription(port, n)))
            if answer.status != 201:
                return _unavailable(subscribers, f"POST /subscriptions answered {answer.status}")
            subscription_ids.append((answer.header("location") or "").rsplit("/", 1)[-1])
        if not await _wait_until_delivering(receiver, req, url, probe_ids[0], subscribers):
            return _unavailable(
                subscribers,
                f"no notification reached all {subscribers} subscribers in {_READY_TIMEOUT_S:g} s",
            )
        receiver.reset()
        started = time.perf_counter()

        def build(number: int) -> bytes:
            seq = number + 1
            receiver.sent[seq] = time.perf_counter()
            body = {"seq": {"type": "Property", "value": seq}}
            return req.send("PATCH", f"/entities/{probe_ids[number % probes]}/attrs", body)

        updates = await run_load(
            url, build, connections=connections, max_requests=10**9, duration_s=duration_s
        )
        expected = updates.ok * subscribers
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.wait_for(expected), _DRAIN_TIMEOUT_S)
        return _figure(
            receiver, updates.ok, updates.errors + updates.transport_errors, expected, started, subscribers
        )
    finally:
        for sid in subscription_ids:
            await one_request(url, req.send("DELETE", f"/subscriptions/{sid}"))
        await receiver.close()


async def _wait_until_delivering(
    receiver: NotificationReceiver, req: Requests, url: str, probe_id: str, subscribers: int
) -> bool:
    """PATCH one probe until every subscriber path has had a notification (the notifier found the tenant)."""
    deadline = time.perf_counter() + _READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        body = {"seq": {"type": "Property", "value": -1}}
        await one_request(url, req.send("PATCH", f"/entities/{probe_id}/attrs", body))
        await asyncio.sleep(0.25)
        if len(receiver.paths) >= subscribers:
            return True
    return False


def _subscription(port: int, number: int) -> dict[str, object]:
    return {
        "type": "Subscription",
        "entities": [{"type": PROBE_TYPE}],
        "watchedAttributes": ["seq"],
        "notification": {
            "attributes": ["seq"],
            "format": "keyValues",
            "endpoint": {"uri": f"http://127.0.0.1:{port}/subscriber/{number}", "accept": "application/json"},
        },
    }


def _figure(
    receiver: NotificationReceiver, updates: int, failed: int, expected: int, started: float, subscribers: int
) -> F.Figure:
    spec = F.notify_spec(subscribers)
    latencies = sorted(receiver.latencies_ms)
    elapsed = receiver.last_at - started if receiver.last_at > started else 0.0
    missing = max(0, expected - len(latencies))
    figure = F.Figure(
        key=spec.key,
        title=spec.title,
        unit=spec.unit,
        implemented=True,
        target=spec.target,
        target_rate=spec.min_rate,
        rate=len(latencies) / elapsed if elapsed else 0.0,
        count=len(latencies),
        errors=missing + failed + receiver.malformed,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        note=(
            f"{subscribers} subscriptions, {updates} PATCH updates, {len(latencies)} of {expected} "
            f"notifications received ({missing} missing); latency from the PATCH being sent to delivery"
        ),
    )
    figure.round_rates = [figure.rate or 0.0]
    figure.met = F.judge(spec, figure)
    return figure


def _unavailable(subscribers: int, reason: str) -> F.Figure:
    return F.unavailable(F.notify_spec(subscribers), reason)
