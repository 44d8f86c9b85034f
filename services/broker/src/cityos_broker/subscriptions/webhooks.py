"""The webhook client: HTTP/1.1 POSTs over keep-alive connections pooled per endpoint origin.

Written on asyncio transports rather than httpx because a notification is one small POST whose answer is
only a status: httpx/httpcore spent ~55 % of the notifier's CPU per delivery (its pool, anyio streams,
h11 events, cookies, an INFO log line), this client a few per cent (docs/broker-design.md, Notifications).

SSRF: a connection is opened to an address that `check_outbound_url` has just checked (the host is
resolved once, every address checked, and the connection made to one of those addresses, never resolved
again), so DNS rebinding cannot point an open connection somewhere else. A connection is reused for the
same origin (scheme, host, port) only, and is closed once idle for `idle_timeout`, after which the next
delivery resolves and checks again. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url

from cityos_broker.subscriptions.http1 import MalformedResponse, ResponseReader

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Headers that frame or route the request: set by the client only, never by receiverInfo.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
_TARGET_CACHE = 4096


class ConnectionDropped(ConnectionError):
    """The endpoint closed the connection before answering."""

    def __init__(self, *, answered: bool) -> None:
        super().__init__("the endpoint closed the connection" + (" mid-response" if answered else ""))
        self.answered = answered


@dataclass(frozen=True, slots=True)
class Target:
    """Where one endpoint URI posts to: its origin, the Host header and the request target."""

    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, without brackets
    port: int
    host_header: str
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def parse_target(uri: str) -> Target:
    """The Target of an http(s) URI; UnsafeUrlError when it cannot be one (the guard checks the rest)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as error:
        raise UnsafeUrlError(f"malformed URL {uri[:80]!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise UnsafeUrlError(f"not an http(s) URL with a host: {uri[:80]!r}")
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        shown = f"{shown}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE)
    return Target(scheme, host, port or _DEFAULT_PORTS[scheme], shown, path)


def encode_request(target: Target, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    """A POST request's bytes; ValueError for a header that is not a valid HTTP field."""
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}", f"Content-Length: {len(body)}"]
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name[:40]!r}")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid value of header {name!r}")
        if name.lower() in RESERVED_HEADERS:
            continue
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reader: ResponseReader | None = None
        self._waiter: asyncio.Future[ResponseReader] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader, waiter = self._reader, self._waiter
        if reader is None or waiter is None or waiter.done():
            self.close()  # bytes nobody asked for
            return
        try:
            done = reader.feed(data)
        except MalformedResponse as error:
            waiter.set_exception(error)
            self.close()
            return
        if done:
            self._reader = None
            waiter.set_result(reader)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost fails a request still waiting

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, reader = self._waiter, self._reader
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionDropped(answered=reader is not None and reader.started))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> ResponseReader:
        """Send one request and read its response (the caller closes the connection on any error)."""
        assert self.transport is not None
        self._reader = ResponseReader()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


class _Origin:
    """The idle connections to one origin and a bound on the connections open to it."""

    __slots__ = ("idle", "slots", "users")

    def __init__(self, limit: int) -> None:
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(limit)
        self.users = 0  # requests sending or waiting for a slot (the origin is forgotten only at 0)


class WebhookClient:
    """POSTs to webhook endpoints over pooled keep-alive HTTP/1.1 connections."""

    def __init__(
        self,
        *,
        allow_private: bool,
        connections_per_origin: int = 64,
        idle_timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._limit = connections_per_origin
        self._idle_timeout = idle_timeout
        self._ssl = ssl_context
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._targets: dict[str, Target] = {}
        self._swept = time.monotonic()

    def target(self, uri: str) -> Target:
        """The parsed target of a URI (cached; UnsafeUrlError for one that is not http(s))."""
        target = self._targets.get(uri)
        if target is None:
            target = parse_target(uri)
            if len(self._targets) >= _TARGET_CACHE:
                self._targets.clear()
            self._targets[uri] = target
        return target

    async def post(self, target: Target, request: bytes) -> int:
        """Send an encoded request and return the response status.

        Raises UnsafeUrlError (refused endpoint), OSError / ConnectionError (connect or transport failure),
        MalformedResponse. Callers bound the time with a timeout; a cancelled exchange closes its connection.
        """
        origin = self._origins.get(target.origin)
        if origin is None:
            origin = self._origins[target.origin] = _Origin(self._limit)
        origin.users += 1
        try:
            async with origin.slots:
                self._sweep()
                connection = self._idle(origin)
                if connection is not None:
                    try:
                        return await self._exchange(origin, connection, request)
                    except ConnectionDropped as error:
                        if error.answered:
                            raise
                        # The endpoint closed an idle connection as we reused it and answered nothing:
                        # the request goes once more on a fresh connection (its id de-duplicates anyway).
                connection = await self._connect(target)
                return await self._exchange(origin, connection, request)
        finally:
            origin.users -= 1

    async def aclose(self) -> None:
        """Close every idle connection (requests in flight close theirs when they end)."""
        for origin in self._origins.values():
            for connection in origin.idle:
                connection.close()
            origin.idle.clear()
        self._origins.clear()

    async def _exchange(self, origin: _Origin, connection: _Connection, request: bytes) -> int:
        try:
            reader = await connection.exchange(request)
        except BaseException:
            connection.close()  # state unknown (cancelled, timed out, failed): never reused
            raise
        if reader.keep_alive and not connection.closed:
            connection.idle_since = time.monotonic()
            origin.idle.append(connection)
        else:
            connection.close()
        return reader.status

    def _idle(self, origin: _Origin) -> _Connection | None:
        """The most recently used open idle connection (older expired ones are closed)."""
        now = time.monotonic()
        while origin.idle:
            connection = origin.idle.pop()
            if not connection.closed and now - connection.idle_since < self._idle_timeout:
                return connection
            connection.close()
        return None

    def _sweep(self) -> None:
        """Close connections idle for longer than the idle timeout, at most once a second."""
        now = time.monotonic()
        if now - self._swept < 1.0:
            return
        self._swept = now
        for key, origin in list(self._origins.items()):
            keep = [c for c in origin.idle if not c.closed and now - c.idle_since < self._idle_timeout]
            for connection in origin.idle:
                if connection not in keep:
                    connection.close()
            origin.idle[:] = keep
            if not keep and origin.users == 0:
                del self._origins[key]

    async def _connect(self, target: Target) -> _Connection:
        """Resolve, check every address against the SSRF rules, connect to a checked one."""
        addresses = await self._addresses(target)
        loop = asyncio.get_running_loop()
        context = None
        if target.scheme == "https":
            if self._ssl is None:  # made once: loading the CA store costs milliseconds
                self._ssl = ssl.create_default_context()
            context = self._ssl
        error: OSError | None = None
        for address in addresses:
            try:
                _, connection = await loop.create_connection(
                    _Connection,
                    address,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
            except OSError as failure:
                error = failure
                continue
            return connection  # asyncio sets TCP_NODELAY on TCP transports
        raise error or OSError(f"no address to connect to for {target.host}")

    async def _addresses(self, target: Target) -> list[str]:
        resolved: list[str] = []

        async def resolve(host: str, port: int) -> list[str]:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            resolved.extend(str(info[4][0]) for info in infos)
            return resolved

        url = f"{target.scheme}://{target.host_header}/"
        await check_outbound_url(url, allow_private=self._allow_private, resolver=resolve)
        if resolved:
            return list(dict.fromkeys(resolved))  # checked: connect only to these
        # allow_private, or an IP literal (checked as such): nothing to pin against
        return [target.host]
