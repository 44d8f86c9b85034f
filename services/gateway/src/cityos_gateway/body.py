"""Reading a request body under the size limit, without buffering more than the limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cityos_runtime.problems import ProblemError

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientDisconnected(Exception):
    """The client went away before the whole body arrived."""


async def read_body(receive: Receive, content_length: str, limit: int) -> bytes:
    """The whole body; 413 PayloadTooLarge as soon as it is known to exceed `limit` bytes."""
    if content_length:
        if not content_length.isdigit():
            raise ProblemError("InvalidRequest", "Content-Length is not a number")
        if int(content_length) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> ProblemError:
    return ProblemError("PayloadTooLarge", f"the request body is larger than {limit} bytes")
