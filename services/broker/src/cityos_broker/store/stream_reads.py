"""XREADGROUP over many tenants' streams, on one Redis or on a Redis Cluster.

On one Redis (standalone, Sentinel) every stream is read by one blocking XREADGROUP, as before. A
cluster refuses keys of several hash slots in one command, and every tenant has its own slot, so there the
streams are grouped by slot and read without blocking in one pipeline (one round trip per node); when
nothing is new, the sweep is repeated after a pause that doubles from 5 ms up to 100 ms (within the
caller's block time, and carried over to its next call). An idle cluster therefore notices a new entry
within about 100 ms, a busy one at once; `wake` ends the pause when this process itself added entries
(the notifier's matching loop wakes its delivery loop). COUNT applies to each stream, as in one
XREADGROUP over several streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any, cast

from cityos_runtime.redis_connect import RedisClient
from redis.asyncio import RedisCluster
from redis.crc import key_slot

from cityos_broker.store.keys import as_text

StreamEntry = tuple[bytes | str, dict[bytes, bytes] | None]
StreamReply = list[tuple[str, list[StreamEntry]]]
_FIRST_PAUSE_S = 0.005
_MAX_PAUSE_S = 0.1


class GroupReader:
    """Reads consumer-group entries of many streams for one consumer."""

    def __init__(self, redis: RedisClient, consumer: str) -> None:
        self._redis = redis
        self.consumer = consumer
        # Per group: the pause before the next empty sweep, kept across calls so an idle reader stays slow,
        # and the event that ends a pause early (`wake`).
        self._pauses: dict[str, float] = {}
        self._wakeups: dict[str, asyncio.Event] = {}

    def wake(self, group: str) -> None:
        """Sweep `group` again now: this process just added entries for it (a no-op on one Redis)."""
        self._pauses[group] = _FIRST_PAUSE_S
        event = self._wakeups.get(group)
        if event is not None:
            event.set()

    async def read(
        self, group: str, streams: Mapping[str, str], *, count: int, block_ms: int | None
    ) -> StreamReply:
        """Entries after the given ids (`>`: new ones), up to `count` per stream; blocks up to `block_ms`.

        A missing group raises ResponseError (NOGROUP) as XREADGROUP does.
        """
        if not streams:
            return []
        if not isinstance(self._redis, RedisCluster):
            return await self._one(group, streams, count=count, block_ms=block_ms)
        by_slot: dict[int, dict[str, str]] = {}
        for stream, start in streams.items():
            by_slot.setdefault(key_slot(stream.encode()), {})[stream] = start
        if len(by_slot) == 1:
            return await self._one(group, streams, count=count, block_ms=block_ms)
        return await self._sweeps(group, by_slot, count=count, block_ms=block_ms)

    async def _one(
        self, group: str, streams: Mapping[str, str], *, count: int, block_ms: int | None
    ) -> StreamReply:
        reply = await self._redis.xreadgroup(
            group,
            self.consumer,
            dict(streams),  # type: ignore[arg-type]  # redis-py types the ids as KeyT; strings are fine
            count=count,
            block=block_ms,
        )
        return _decode(reply)

    async def _sweeps(
        self, group: str, by_slot: dict[int, dict[str, str]], *, count: int, block_ms: int | None
    ) -> StreamReply:
        deadline = time.monotonic() + (block_ms or 0) / 1000.0
        woken = self._wakeups.setdefault(group, asyncio.Event())
        while True:
            woken.clear()  # before the sweep, so a wake during it is not lost
            found = await self._sweep(group, by_slot, count)
            if found:
                self._pauses[group] = _FIRST_PAUSE_S
                return found
            remaining = deadline - time.monotonic()
            if block_ms is None or remaining <= 0:
                return found
            pause = self._pauses.get(group, _FIRST_PAUSE_S)
            self._pauses[group] = min(pause * 2, _MAX_PAUSE_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=min(pause, remaining))

    async def _sweep(self, group: str, by_slot: dict[int, dict[str, str]], count: int) -> StreamReply:
        """One non-blocking XREADGROUP per slot, pipelined (the cluster client sends one batch per node)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for streams in by_slot.values():
                pipe.xreadgroup(group, self.consumer, streams, count=count)  # type: ignore[arg-type]
            replies = await pipe.execute()
        return [pair for reply in replies for pair in _decode(reply)]


def _decode(reply: Any) -> StreamReply:
    """XREADGROUP's reply as (stream name, entries) pairs (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    pairs = reply.items() if isinstance(reply, dict) else reply
    return [(as_text(stream), cast(list[StreamEntry], entries)) for stream, entries in pairs]
