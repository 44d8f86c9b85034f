"""Group commit of delivered notifications on a real Redis: what one flush of many deliveries leaves."""

from __future__ import annotations

import asyncio

import pytest
from cityos_broker.subscriptions.completions import Completions, Delivered
from cityos_broker.subscriptions.queue import SENDER_GROUP, NotificationQueue
from cityos_broker.subscriptions.store import SubscriptionKeys, SubscriptionStore
from cityos_runtime.redis_connect import RedisClient

pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


def subscription(sub_id: str) -> dict[str, object]:
    return {"id": sub_id, "type": "Subscription", "notification": {"endpoint": {"uri": "http://x/"}}}


async def queued(redis: RedisClient, tenant: str, count: int) -> list[str]:
    """`count` notify entries, read by this test's consumer as a sender would (pending, unacknowledged)."""
    queue = NotificationQueue(redis, "tester")
    await queue.ensure_groups(tenant)
    keys = SubscriptionKeys(tenant)
    for n in range(count):
        await redis.xadd(keys.notify, {"sub": "s", "nid": f"n{n}", "body": b"{}", "ct": "application/json"})
    entries = await queue.read([keys.notify], SENDER_GROUP, count=count, block_ms=100)
    return [entry.entry_id for entry in entries]


async def test_deliveries_ending_together_are_acknowledged_marked_and_counted(
    redis: RedisClient, unique_tenant: str
) -> None:
    store = SubscriptionStore(redis)
    await store.create(unique_tenant, subscription("urn:a"))
    await store.create(unique_tenant, subscription("urn:b"))
    ids = await queued(redis, unique_tenant, 30)
    completions = Completions(redis, store, sent_ttl_s=60)
    await asyncio.gather(
        *(
            completions.delivered(Delivered(unique_tenant, entry_id, f"n{n}", "urn:a" if n % 3 else "urn:b"))
            for n, entry_id in enumerate(ids)
        )
    )
    keys = SubscriptionKeys(unique_tenant)
    assert await redis.xlen(keys.notify) == 0
    assert (await redis.xpending(keys.notify, SENDER_GROUP))["pending"] == 0
    assert await redis.exists(*(keys.sent(f"n{n}") for n in range(30))) == 30
    a, b = await store.get_many(unique_tenant, ["urn:a", "urn:b"])
    assert a is not None and b is not None
    assert a.status["timesSent"] == "20" and b.status["timesSent"] == "10"
    assert a.status["lastSuccess"] == a.status["lastNotification"]


async def test_a_deleted_subscription_gets_no_status_back(redis: RedisClient, unique_tenant: str) -> None:
    store = SubscriptionStore(redis)
    [entry_id] = await queued(redis, unique_tenant, 1)
    completions = Completions(redis, store, sent_ttl_s=60)
    await completions.delivered(Delivered(unique_tenant, entry_id, "n0", "urn:gone"))
    keys = SubscriptionKeys(unique_tenant)
    assert await redis.exists(keys.status("urn:gone")) == 0
    assert await redis.xlen(keys.notify) == 0


async def test_a_cancelled_delivery_does_not_cancel_the_others(
    redis: RedisClient, unique_tenant: str
) -> None:
    store = SubscriptionStore(redis)
    await store.create(unique_tenant, subscription("urn:a"))
    ids = await queued(redis, unique_tenant, 5)
    completions = Completions(redis, store, sent_ttl_s=60)
    tasks = [
        asyncio.create_task(completions.delivered(Delivered(unique_tenant, entry_id, f"n{n}", "urn:a")))
        for n, entry_id in enumerate(ids)
    ]
    await asyncio.sleep(0)  # every delivery has joined the batch
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [None] * 4
    assert await redis.xlen(SubscriptionKeys(unique_tenant).notify) == 0
