"""The pooled webhook client against real loopback HTTP servers: reuse, closes, failures, the SSRF guard."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cityos_broker.subscriptions.webhooks import ConnectionDropped, WebhookClient, encode_request
from cityos_runtime.ssrf import UnsafeUrlError

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 204 No Content\r\n\r\n"
Reply = Callable[[int, int], Awaitable[bytes | None]]  # (connection number, request number) -> answer


@dataclass
class Server:
    """A loopback HTTP/1.1 server whose answers a test scripts; counts connections and requests."""

    reply: Reply
    connections: int = 0
    requests: list[tuple[int, bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                self.requests.append((number, body))
                answer = await self.reply(number, len(self.requests))
                if answer is None:
                    break  # close without answering
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Reply], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> Server:
        server = Server(reply)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        server.port = listening.sockets[0].getsockname()[1]
        servers.append(listening)
        return server

    yield start
    for listening in servers:
        listening.close()
        await listening.wait_closed()


async def always(answer: bytes) -> Reply:
    async def reply(_: int, __: int) -> bytes:
        return answer

    return reply


async def post(client: WebhookClient, url: str, body: bytes) -> int:
    target = client.target(url)
    async with asyncio.timeout(10):
        return await client.post(target, encode_request(target, [("Content-Type", "application/json")], body))


async def test_one_connection_carries_sequential_notifications(
    serve: Callable[[Reply], Awaitable[Server]],
) -> None:
    server = await serve(await always(_OK))
    client = WebhookClient(allow_private=True)
    try:
        statuses = [await post(client, server.url(), b'{"n":%d}' % n) for n in range(20)]
    finally:
        await client.aclose()
    assert statuses == [204] * 20
    assert server.connections == 1
    assert [body for _, body in server.requests] == [b'{"n":%d}' % n for n in range(20)]


async def test_concurrent_posts_stay_within_the_connection_limit(
    serve: Callable[[Reply], Awaitable[Server]],
) -> None:
    async def slow(_: int, __: int) -> bytes:
        await asyncio.sleep(0.01)
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"

    server = await serve(slow)
    client = WebhookClient(allow_private=True, connections_per_origin=4)
    try:
        statuses = await asyncio.gather(*(post(client, server.url(), b"{}") for _ in range(40)))
    finally:
        await client.aclose()
    assert statuses == [200] * 40
    assert 1 <= server.connections <= 4


async def test_connection_close_answers_open_a_new_connection_each_time(
    serve: Callable[[Reply], Awaitable[Server]],
) -> None:
    server = await serve(await always(b"HTTP/1.1 500 No\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
    client = WebhookClient(allow_private=True)
    try:
        statuses = [await post(client, server.url(), b"{}") for _ in range(3)]
    finally:
        await client.aclose()
    assert statuses == [500] * 3
    assert server.connections == 3


async def test_a_reused_connection_closed_before_answering_is_retried_once_on_a_new_one(
    serve: Callable[[Reply], Awaitable[Server]],
) -> None:
    async def drop_second(connection: int, request: int) -> bytes | None:
        return None if request == 2 else _OK  # the 2nd request, on the kept connection, is dropped

    server = await serve(drop_second)
    client = WebhookClient(allow_private=True)
    try:
        assert await post(client, server.url(), b"1") == 204
        assert await post(client, server.url(), b"2") == 204
    finally:
        await client.aclose()
    assert server.requests == [(1, b"1"), (1, b"2"), (2, b"2")]


async def test_a_connection_dropped_mid_answer_fails() -> None:
    async def half_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(half_then_close, "127.0.0.1", 0)
    client = WebhookClient(allow_private=True)
    try:
        target = client.target(f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/")
        with pytest.raises(ConnectionDropped) as dropped:
            async with asyncio.timeout(10):
                await client.post(target, encode_request(target, [], b"{}"))
        assert dropped.value.answered
    finally:
        await client.aclose()
        listening.close()
        await listening.wait_closed()


async def test_an_unanswered_request_times_out_and_its_connection_is_not_reused(
    serve: Callable[[Reply], Awaitable[Server]],
) -> None:
    release = asyncio.Event()

    async def first_hangs(_: int, request: int) -> bytes:
        if request == 1:
            await release.wait()
        return _OK

    server = await serve(first_hangs)
    client = WebhookClient(allow_private=True)
    target = client.target(server.url())
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.post(target, encode_request(target, [], b"1"))
        release.set()
        assert await post(client, server.url(), b"2") == 204
    finally:
        await client.aclose()
    assert [number for number, _ in server.requests] == [1, 2]  # the second on a new connection


async def test_loopback_is_refused_without_allow_private(serve: Callable[[Reply], Awaitable[Server]]) -> None:
    server = await serve(await always(_OK))
    client = WebhookClient(allow_private=False)
    try:
        for url in (server.url(), f"http://localhost:{server.port}/hook"):
            with pytest.raises(UnsafeUrlError):
                await post(client, url, b"{}")
    finally:
        await client.aclose()
    assert server.connections == 0


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key files)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


async def test_https_endpoints_are_verified_and_kept_alive(tmp_path: Path) -> None:
    cert_file, key_file = _certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    server = Server(await always(_OK))
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}/hook"
    trusted = WebhookClient(allow_private=True, ssl_context=ssl.create_default_context(cafile=str(cert_file)))
    untrusted = WebhookClient(allow_private=True)  # the system CAs: the self-signed certificate fails
    try:
        assert [await post(trusted, url, b"{}") for _ in range(3)] == [204] * 3
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(untrusted, url, b"{}")
    finally:
        await trusted.aclose()
        await untrusted.aclose()
        listening.close()
        await listening.wait_closed()
    assert server.connections == 1 and len(server.requests) == 3
