"""`poll_until`: wait for a condition in tests instead of sleeping."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")


async def poll_until(
    check: Callable[[], Awaitable[T | None] | T | None],
    what: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - the signature every test helper shares
    interval: float = 0.05,
) -> T:
    """Call `check` (sync or async) until it returns something other than None or False; return it.

    Raises AssertionError naming `what` (and the last result) when `timeout` seconds pass first.
    Exceptions raised by `check` propagate at once: catch inside `check` what is expected while waiting.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result is not None and result is not False:
            return cast(T, result)
        last = result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last result: {last!r})")
        await asyncio.sleep(interval)
