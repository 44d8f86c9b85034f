"""The load generator against a tiny HTTP/1.1 server on a loopback port: counts, errors, bounds."""

import asyncio
import time

import pytest
from cityos_devtools.processes import free_port

from loadtests.bench.http1 import encode_request
from loadtests.bench.loadgen import run_load

pytestmark = pytest.mark.integration


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers by path: /ok (Content-Length), /chunked, /fail (500), /close (then closes), /slow."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path == b"/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            elif path == b"/fail":
                writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
            elif path == b"/close":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                break
            elif path == b"/slow":
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def server_url():
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


def by_number(host: str, paths: list[str]):
    requests = [encode_request("GET", p, host) for p in paths]
    return lambda n: requests[n % len(requests)]


async def test_counts_statuses_and_parses_both_framings(server_url):
    factory = by_number(server_url[7:], ["/ok", "/chunked", "/fail", "/close"])
    result = await run_load(server_url, factory, connections=4, max_requests=400, duration_s=30)
    assert result.count == 400
    assert result.status_counts == {200: 300, 500: 100}
    assert (result.ok, result.errors, result.transport_errors, result.timeouts) == (300, 100, 0, 0)
    assert result.error_samples and result.error_samples[0].startswith("500 boom")
    assert result.throughput > 0 and result.pct(50) > 0


async def test_the_time_limit_bounds_a_run(server_url):
    started = time.perf_counter()
    result = await run_load(
        server_url, by_number(server_url[7:], ["/slow"]), connections=2, max_requests=10**9, duration_s=0.5
    )
    assert time.perf_counter() - started < 2
    assert 0 < result.count < 60
    assert result.pct(50) >= 50


async def test_a_refused_port_is_a_transport_error_not_a_hang():
    host = f"127.0.0.1:{free_port()}"  # free right now: nothing listens there
    result = await run_load(
        f"http://{host}", by_number(host, ["/ok"]), connections=1, max_requests=3, duration_s=5
    )
    assert result.count == 0 and result.transport_errors == 3


async def test_non_loopback_targets_are_refused_before_any_connection():
    with pytest.raises(ValueError, match="loopback"):
        await run_load("http://192.0.2.1:80", lambda n: b"", connections=1, max_requests=1, duration_s=1)
