"""GroupReader reads many tenants' streams on one Redis and on a Redis Cluster (one slot per tenant)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from cityos_broker.store import stream_reads
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.stream_reads import GroupReader
from cityos_runtime.redis_connect import RedisClient

pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]
GROUP = "test-readers"


async def _streams(redis: RedisClient, tenants: int) -> list[str]:
    streams = [TenantKeys(f"t-{uuid.uuid4().hex[:12]}").changes for _ in range(tenants)]
    for stream in streams:
        await redis.xgroup_create(stream, GROUP, "$", mkstream=True)
    return streams


async def test_every_entry_is_read_once_at_most_count_per_stream_and_read(redis: RedisClient) -> None:
    streams = await _streams(redis, 6)
    written = {(stream, i) for stream in streams for i in range(4)}
    for stream, i in sorted(written):
        await redis.xadd(stream, {"n": str(i)})
    reader = GroupReader(redis, "reader-1")
    got: list[tuple[str, str]] = []
    for _ in range(50):
        reply = await reader.read(GROUP, dict.fromkeys(streams, ">"), count=3, block_ms=None)
        batch = [
            (stream, fields[b"n"].decode()) for stream, entries in reply for _, fields in entries if fields
        ]
        assert all(len(entries) <= 3 for _, entries in reply)  # COUNT is per stream, as in XREADGROUP
        got.extend(batch)
        if len(got) >= len(written):
            break
    assert sorted(got) == sorted((stream, str(i)) for stream, i in written)
    assert await reader.read(GROUP, dict.fromkeys(streams, ">"), count=5, block_ms=None) == []


async def test_a_blocking_read_returns_an_entry_written_while_it_waits(redis: RedisClient) -> None:
    streams = await _streams(redis, 3)
    reader = GroupReader(redis, "reader-2")
    waiting = asyncio.create_task(reader.read(GROUP, dict.fromkeys(streams, ">"), count=10, block_ms=5000))
    await asyncio.sleep(0.2)
    await redis.xadd(streams[1], {"n": "late"})
    reply = await waiting
    assert [(stream, fields[b"n"]) for stream, entries in reply for _, fields in entries if fields] == [
        (streams[1], b"late")
    ]


async def test_pending_entries_are_read_again_from_zero(redis: RedisClient) -> None:
    streams = await _streams(redis, 4)
    for stream in streams:
        await redis.xadd(stream, {"n": "1"})
    reader = GroupReader(redis, "reader-3")
    first = await reader.read(GROUP, dict.fromkeys(streams, ">"), count=10, block_ms=None)
    again = await reader.read(GROUP, dict.fromkeys(streams, "0"), count=10, block_ms=None)
    assert sorted(s for s, e in first if e) == sorted(s for s, e in again if e) == sorted(streams)


async def test_wake_ends_an_idle_pause_at_once(redis: RedisClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # An idle pause of a minute: without `wake` the entry below would not be read within the test's wait.
    monkeypatch.setattr(stream_reads, "_FIRST_PAUSE_S", 60.0)
    streams = await _streams(redis, 3)
    reader = GroupReader(redis, "reader-4")
    waiting = asyncio.create_task(reader.read(GROUP, dict.fromkeys(streams, ">"), count=10, block_ms=120_000))
    await asyncio.sleep(0.2)
    await redis.xadd(streams[2], {"n": "woken"})
    reader.wake(GROUP)
    reply = await asyncio.wait_for(waiting, timeout=20)
    assert [fields[b"n"] for _, entries in reply for _, fields in entries if fields] == [b"woken"]
