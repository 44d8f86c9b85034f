"""An incremental HTTP/1.1 response reader for the webhook sender: the status and the message framing.

The notifier only needs to know whether an endpoint accepted a notification (its status code) and whether
the connection can carry the next one, so the reader parses the status line and the framing headers
(RFC 9112 section 6: `Content-Length`, chunked `Transfer-Encoding`, `Connection`) and discards the body. A
body the reader will not wait for (delimited by the connection closing, or longer than `max_body`) ends
the response at once with `keep_alive` False: the caller closes the connection instead of reading on.
"""

from __future__ import annotations

import re

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _DONE = range(7)


class MalformedResponse(Exception):
    """The endpoint's answer is not HTTP/1.x (the connection must be closed)."""


class ResponseReader:
    """Reads one response from the bytes fed to it; `feed` returns True once it is complete."""

    __slots__ = (
        "_buf",
        "_got",
        "_remaining",
        "_seen",
        "_state",
        "keep_alive",
        "max_body",
        "max_head",
        "status",
    )

    def __init__(self, *, max_head: int = 65_536, max_body: int = 1 << 20) -> None:
        self.max_head = max_head
        self.max_body = max_body
        self.status = 0
        self.keep_alive = False
        self._buf = bytearray()
        self._state = _HEAD
        self._remaining = 0  # bytes left of the body (Content-Length) or of the current chunk
        self._seen = 0  # body bytes read so far (chunked)
        self._got = False

    @property
    def started(self) -> bool:
        """Whether any byte of a response arrived (a reused connection that closes before is retried)."""
        return self._got

    @property
    def complete(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> bool:
        """Consume `data`; True when the response is complete. Raises MalformedResponse."""
        if self._state == _DONE:
            if data:
                self.keep_alive = False  # bytes nobody asked for: the connection is not reusable
            return True
        self._got = self._got or bool(data)
        self._buf += data
        while self._state != _DONE:
            if not self._step():
                return False
        if self._buf:
            self.keep_alive = False
        return True

    def _step(self) -> bool:
        """Advance one state; False when more bytes are needed."""
        state, buf = self._state, self._buf
        if state == _HEAD:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_head:
                    raise MalformedResponse("response head too large")
                return False
            head = bytes(buf[:end])
            del buf[: end + 4]
            self._head(head)
        elif state == _LENGTH:
            taken = min(self._remaining, len(buf))
            del buf[:taken]
            self._remaining -= taken
            if self._remaining:
                return False
            self._state = _DONE
        elif state == _CHUNK_SIZE_LINE:
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 1024:
                    raise MalformedResponse("chunk size line too long")
                return False
            match = _CHUNK_SIZE.fullmatch(bytes(buf[:end]))
            if match is None:
                raise MalformedResponse("malformed chunk size")
            del buf[: end + 2]
            size = int(match.group(1), 16)
            self._seen += size
            if size == 0:
                self._state = _TRAILERS
            elif self._seen > self.max_body:
                self._stop()  # not worth reading: the connection is closed instead
            else:
                self._remaining, self._state = size, _CHUNK_DATA
        elif state == _CHUNK_DATA:
            taken = min(self._remaining, len(buf))
            del buf[:taken]
            self._remaining -= taken
            if self._remaining:
                return False
            self._state = _CHUNK_END
        elif state == _CHUNK_END:
            if len(buf) < 2:
                return False
            if buf[:2] != b"\r\n":
                raise MalformedResponse("chunk not followed by CRLF")
            del buf[:2]
            self._state = _CHUNK_SIZE_LINE
        elif state == _TRAILERS:
            if buf[:2] == b"\r\n":
                del buf[:2]
                self._state = _DONE
                return True
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_head:
                    raise MalformedResponse("trailers too large")
                return False
            del buf[: end + 4]
            self._state = _DONE
        return True

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise MalformedResponse(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
        minor, status = match.group(1), int(match.group(2))
        if 100 <= status < 200 and status != 101:
            return  # an interim response (100 Continue, 103 Early Hints): the final one follows
        self.status = status
        length: int | None = None
        chunked = coded = close = False
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise MalformedResponse("malformed header line")
            key, value = name.lower(), value.strip()
            if key == b"content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise MalformedResponse("invalid Content-Length")
                length = int(value)
            elif key == b"transfer-encoding":
                coded = True
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            elif key == b"connection":
                close = close or b"close" in value.lower()
        self.keep_alive = minor == b"1" and not close
        if status == 101:
            raise MalformedResponse("the endpoint switched protocols")
        if status in (204, 304):
            self._state = _DONE
        elif coded:
            if chunked:
                self._state = _CHUNK_SIZE_LINE
            else:
                self._stop()  # a body delimited by the connection closing
        elif length is not None:
            if length > self.max_body:
                self._stop()
            else:
                self._remaining = length
                self._state = _LENGTH if length else _DONE
        else:
            self._stop()  # no framing: the body runs until the connection closes

    def _stop(self) -> None:
        """Complete now without reading the rest of the body; the connection must not be reused."""
        self.keep_alive = False
        self._state = _DONE
        self._buf.clear()
