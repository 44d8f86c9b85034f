"""The change-stream trimmer never drops an entry a consumer group has not processed (real Valkey)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cityos_broker.store.keys import TENANTS_KEY, TenantKeys
from cityos_broker.store.stream_trim import STREAM_TRIM_LEASE_KEY, StreamTrimJob
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

CAP = 50


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


async def _append(redis: Redis, stream: str, count: int) -> list[bytes]:
    """Append `count` change-like events in one pipeline; returns their ids in order."""
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            pipe.xadd(stream, {"op": "upsert", "id": f"urn:ngsi-ld:T:{n}"})
        return [bytes(i) for i in await pipe.execute()]


async def _ids(redis: Redis, stream: str) -> list[bytes]:
    return [bytes(entry_id) for entry_id, _ in await redis.xrange(stream)]


def _job(redis: Redis) -> StreamTrimJob:
    return StreamTrimJob(redis, owner="test-trimmer", ungrouped_cap=CAP, interval=60.0)


async def test_a_group_that_read_nothing_keeps_every_entry(redis: Redis, unique_tenant: str) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.xgroup_create(stream, "notifier", id="0", mkstream=True)
    written = await _append(redis, stream, CAP * 3)

    assert await _job(redis).trim(stream) == 0
    assert await _ids(redis, stream) == written


async def test_acknowledged_entries_are_trimmed_up_to_the_group_position(
    redis: Redis, unique_tenant: str
) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.xgroup_create(stream, "notifier", id="0", mkstream=True)
    written = await _append(redis, stream, CAP * 3)
    read = await redis.xreadgroup("notifier", "c1", {stream: ">"}, count=100)
    delivered = [bytes(entry_id) for entry_id, _ in read[0][1]]
    await redis.xack(stream, "notifier", *delivered)

    removed = await _job(redis).trim(stream)

    # Everything before the last delivered entry goes; that entry and all unread ones stay.
    assert removed == 99
    assert await _ids(redis, stream) == written[99:]


async def test_pending_entries_are_kept(redis: Redis, unique_tenant: str) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.xgroup_create(stream, "notifier", id="0", mkstream=True)
    written = await _append(redis, stream, 120)
    read = await redis.xreadgroup("notifier", "c1", {stream: ">"}, count=100)
    delivered = [bytes(entry_id) for entry_id, _ in read[0][1]]
    await redis.xack(stream, "notifier", *delivered[:30], *delivered[31:])  # entry 30 stays pending

    await _job(redis).trim(stream)

    assert await _ids(redis, stream) == written[30:]


async def test_the_slowest_group_bounds_the_trim(redis: Redis, unique_tenant: str) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.xgroup_create(stream, "notifier", id="0", mkstream=True)
    await redis.xgroup_create(stream, "cityos-history", id="0", mkstream=True)
    written = await _append(redis, stream, 100)
    fast = await redis.xreadgroup("notifier", "c1", {stream: ">"}, count=80)
    await redis.xack(stream, "notifier", *[entry_id for entry_id, _ in fast[0][1]])
    slow = await redis.xreadgroup("cityos-history", "c1", {stream: ">"}, count=20)
    await redis.xack(stream, "cityos-history", *[entry_id for entry_id, _ in slow[0][1]])

    await _job(redis).trim(stream)

    assert await _ids(redis, stream) == written[19:]


async def test_a_stream_without_groups_is_capped(redis: Redis, unique_tenant: str) -> None:
    stream = TenantKeys(unique_tenant).changes
    written = await _append(redis, stream, CAP * 3)

    assert await _job(redis).trim(stream) == CAP * 2
    assert await _ids(redis, stream) == written[-CAP:]


async def test_a_pass_trims_every_known_tenant_and_releases_the_lease(
    redis: Redis, unique_tenant: str
) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.sadd(TENANTS_KEY, unique_tenant)
    await redis.xgroup_create(stream, "notifier", id="0", mkstream=True)
    written = await _append(redis, stream, 10)
    read = await redis.xreadgroup("notifier", "c1", {stream: ">"}, count=5)
    await redis.xack(stream, "notifier", *[entry_id for entry_id, _ in read[0][1]])
    # A cap far above the test's streams, so this pass only trims behind groups in the shared server.
    job = StreamTrimJob(redis, owner="test-trimmer", ungrouped_cap=10**9, interval=60.0)

    assert await job.run_once() >= 4
    assert await _ids(redis, stream) == written[4:]
    assert await redis.get(STREAM_TRIM_LEASE_KEY) is None


async def test_a_pass_is_skipped_while_another_replica_holds_the_lease(
    redis: Redis, unique_tenant: str
) -> None:
    stream = TenantKeys(unique_tenant).changes
    await redis.sadd(TENANTS_KEY, unique_tenant)
    written = await _append(redis, stream, CAP * 2)
    await redis.set(STREAM_TRIM_LEASE_KEY, "other-replica", px=5_000)
    try:
        assert await _job(redis).run_once() == 0
        assert await _ids(redis, stream) == written
    finally:
        await redis.delete(STREAM_TRIM_LEASE_KEY)
