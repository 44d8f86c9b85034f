"""Optimistic read-modify-write of a JSON record in a Redis hash (WATCH / MULTI / EXEC, retried)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from cityos_runtime.redis_connect import RedisClient, RedisPipeline
from redis.exceptions import WatchError

from cityos_identity.store.keys import text

MAX_ATTEMPTS = 20


class JsonRecord(Protocol):
    def to_json(self) -> str: ...


R = TypeVar("R", bound=JsonRecord)


class ConcurrentUpdateError(Exception):
    """The record kept changing under us for MAX_ATTEMPTS tries."""


async def update_json(
    redis: RedisClient,
    key: str,
    field: str,
    parse: Callable[[str], R],
    change: Callable[[R], None],
    also: Callable[[RedisPipeline, R, R], Any] | None = None,
) -> R | None:
    """Apply `change` to the record at `key`/`field` atomically; None when it does not exist.

    `also(pipe, before, after)` may queue more commands into the same transaction (e.g. index updates).
    """
    async with redis.pipeline(transaction=True) as pipe:
        for _ in range(MAX_ATTEMPTS):
            try:
                await pipe.watch(key)
                raw = await pipe.hget(key, field)
                if raw is None:
                    return None  # leaving the block resets the pipeline (unwatch)
                before, after = parse(text(raw)), parse(text(raw))
                change(after)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, field, after.to_json())
                if also is not None:
                    also(pipe, before, after)
                await pipe.execute()
                return after
            except WatchError:
                continue
    raise ConcurrentUpdateError(f"{key} {field} changed concurrently {MAX_ATTEMPTS} times")
