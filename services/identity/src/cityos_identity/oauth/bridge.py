"""authlib is synchronous: it runs in worker threads and reaches the async stores through this bridge."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
CALL_TIMEOUT = 10.0


class Bridge:
    """Runs sync code in a small thread pool; that code awaits coroutines on the service's event loop."""

    def __init__(self, *, workers: int = 8) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oauth")

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """From a worker thread: run `coro` on the event loop and block until it finishes."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("Bridge.wait called outside Bridge.call")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """From the event loop: run `func(*args)` in a worker thread, keeping the trace context."""
        self._loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await self._loop.run_in_executor(self._executor, functools.partial(context.run, func, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
