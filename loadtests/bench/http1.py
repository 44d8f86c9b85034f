"""A minimal HTTP/1.1 client codec: request encoding and an incremental, socket-free response parser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_CRLF = b"\r\n"
_HEAD_END = b"\r\n\r\n"
# Responses that never carry a body, whatever their headers say (RFC 9112 section 6.3).
_NO_BODY_STATUSES = frozenset({204, 304})


class HttpParseError(ValueError):
    """The peer sent bytes that are not a valid HTTP/1.1 response."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One complete response: status, headers (names lower-cased), body and whether the connection stays."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    keep_alive: bool

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


def encode_request(
    method: str,
    target: str,
    host: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> bytes:
    """The bytes of one keep-alive request; Content-Length is set whenever a body may be sent."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines).encode("latin-1") + _HEAD_END
    return head + body


@dataclass(slots=True)
class _Head:
    status: int
    headers: tuple[tuple[str, str], ...]
    keep_alive: bool
    length: int | None  # None with chunked False means: the body runs until the connection closes
    chunked: bool


class ResponseParser:
    """Turns the bytes of one connection into complete responses, in order, however they are split."""

    def __init__(self, *, max_head_bytes: int = 65536) -> None:
        self._buf = bytearray()
        self._head: _Head | None = None
        self._chunks: list[bytes] = []
        self._in_trailers = False
        self._max_head_bytes = max_head_bytes

    def feed(self, data: bytes) -> list[HttpResponse]:
        """Add received bytes; return the responses they complete (possibly none)."""
        self._buf += data
        done: list[HttpResponse] = []
        while True:
            response = self._next()
            if response is None:
                return done
            done.append(response)

    def feed_eof(self) -> HttpResponse | None:
        """The peer closed: complete a read-until-close body, or fail if a message is cut short."""
        head = self._head
        if head is None:
            if self._buf:
                raise HttpParseError("connection closed inside a response head")
            return None
        if head.chunked or head.length is not None:
            raise HttpParseError("connection closed before the response body was complete")
        body = bytes(self._buf)
        self._buf.clear()
        self._head = None
        return HttpResponse(head.status, head.headers, body, keep_alive=False)

    def _next(self) -> HttpResponse | None:
        if self._head is None:
            head = self._parse_head()
            if head is None:
                return None
            if head.status < 200:
                return self._next()  # an interim response (100 Continue): the real one follows
            self._head = head
        head = self._head
        if head.chunked:
            body = self._parse_chunked()
        elif head.length is None:
            return None  # read-until-close: only feed_eof completes it
        elif len(self._buf) >= head.length:
            body = bytes(self._buf[: head.length])
            del self._buf[: head.length]
        else:
            body = None
        if body is None:
            return None
        self._head = None
        return HttpResponse(head.status, head.headers, body, head.keep_alive)

    def _parse_head(self) -> _Head | None:
        end = self._buf.find(_HEAD_END)
        if end < 0:
            if len(self._buf) > self._max_head_bytes:
                raise HttpParseError("response head is too large")
            return None
        raw = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + len(_HEAD_END)]
        status_line, *header_lines = raw.split("\r\n")
        version, status = _parse_status_line(status_line)
        headers = tuple(_parse_header(line) for line in header_lines)
        return _frame(version, status, headers)

    def _parse_chunked(self) -> bytes | None:
        """Consume whole chunks from the buffer; the body once the last chunk and trailers are in."""
        while True:
            if self._in_trailers:
                end = self._buf.find(_CRLF)
                if end < 0:
                    return None
                del self._buf[: end + 2]
                if end == 0:  # the empty line after the (possibly absent) trailer fields
                    self._in_trailers = False
                    body = b"".join(self._chunks)
                    self._chunks = []
                    return body
                continue
            end = self._buf.find(_CRLF)
            if end < 0:
                if len(self._buf) > self._max_head_bytes:
                    raise HttpParseError("chunk size line is too long")
                return None
            size = _parse_chunk_size(bytes(self._buf[:end]))
            if size == 0:
                del self._buf[: end + 2]
                self._in_trailers = True
                continue
            needed = end + 2 + size + 2
            if len(self._buf) < needed:
                return None
            if self._buf[needed - 2 : needed] != _CRLF:
                raise HttpParseError("chunk data is not followed by CRLF")
            self._chunks.append(bytes(self._buf[end + 2 : end + 2 + size]))
            del self._buf[:needed]


def _parse_status_line(line: str) -> tuple[str, int]:
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpParseError(f"not an HTTP/1.x status line: {line[:80]!r}")
    if len(parts[1]) != 3 or not parts[1].isdigit():
        raise HttpParseError(f"bad status code in {line[:80]!r}")
    return parts[0], int(parts[1])


def _parse_header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name or name != name.strip():
        raise HttpParseError(f"malformed header line {line[:80]!r}")
    return name.lower(), value.strip()


def _parse_chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    try:
        size = int(text, 16)
    except ValueError:
        raise HttpParseError(f"bad chunk size {line[:40]!r}") from None
    if size < 0 or not text.isalnum():
        raise HttpParseError(f"bad chunk size {line[:40]!r}")
    return size


def _frame(version: str, status: int, headers: tuple[tuple[str, str], ...]) -> _Head:
    """How the body of a response with these headers is delimited (RFC 9112 section 6.3)."""
    connection = ",".join(v.lower() for k, v in headers if k == "connection")
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    if status < 200 or status in _NO_BODY_STATUSES:
        return _Head(status, headers, keep_alive, 0, chunked=False)
    encodings = [v.lower() for k, v in headers if k == "transfer-encoding"]
    if encodings:
        chunked = encodings[-1].rsplit(",", 1)[-1].strip() == "chunked"
        if not chunked:
            return _Head(status, headers, False, None, chunked=False)
        return _Head(status, headers, keep_alive, None, chunked=True)
    lengths = {v for k, v in headers if k == "content-length"}
    if not lengths:
        return _Head(status, headers, False, None, chunked=False)
    if len(lengths) > 1:
        raise HttpParseError(f"conflicting Content-Length values {sorted(lengths)}")
    value = lengths.pop()
    if not value.isdigit():
        raise HttpParseError(f"bad Content-Length {value!r}")
    return _Head(status, headers, keep_alive, int(value), chunked=False)
