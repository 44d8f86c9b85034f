"""Notifier guarantees with several workers on one Redis: exactly one sender, take-over, restarts, leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_broker.subscriptions.notification import Outgoing, notification_id
from cityos_broker.subscriptions.periods import Claim, PeriodLedger
from cityos_broker.subscriptions.queue import Pending
from cityos_devtools.polling import poll_until
from redis.asyncio import Redis

pytestmark = pytest.mark.integration


@pytest.fixture
async def broker(
    redis_env: dict[str, str], start_broker: Any, notify_env: dict[str, str]
) -> AsyncIterator[tuple[str, Any]]:
    """A broker whose own notifier is off: the tests start the workers they need."""
    env = {**redis_env, **notify_env, "BROKER_NOTIFIER": "false"}
    async with start_broker(redis_env["REDIS_URL"], **env) as started:
        yield started


async def subscribe(client: Any, uri: str, **members: Any) -> str:
    doc = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri}},
    }
    doc.update(members)
    request = pb.ResourceRequest(body=orjson.dumps(doc), ld=pb.LdRequest(content_type="application/json"))
    return str((await client.call("CreateSubscription", request)).id)


def vehicles(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"urn:ngsi-ld:Vehicle:{n}", "type": "Vehicle", "speed": {"type": "Property", "value": n}}
        for n in range(count)
    ]


async def times_sent(client: Any, sub_id: str) -> int:
    reply = await client.call("RetrieveSubscription", pb.ResourceRequest(id=sub_id))
    return int(orjson.loads(reply.document.body)["notification"]["timesSent"])


async def quiet(redis: Redis, tenant: str) -> bool:
    """True when nothing is pending in the tenant's notify stream."""
    summary = await redis.xpending(f"{{t:{tenant}}}:notify", "sender")
    return summary["pending"] == 0 and await redis.xlen(f"{{t:{tenant}}}:notify") == 0


async def test_two_workers_send_every_notification_exactly_once(
    client: Any, receiver: Any, workers: Any, redis: Redis
) -> None:
    await workers()
    await workers()
    sub_id = await subscribe(client, receiver.url())
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(60))
    await poll_until(lambda: len(receiver.requests) >= 60 or None, "60 notifications", timeout=20)
    await asyncio.sleep(1.5)  # longer than the claim idle time: a duplicate would have arrived by now
    ids = [r.body["id"] for r in receiver.requests]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert sorted(r.body["data"][0]["id"] for r in receiver.requests) == sorted(v["id"] for v in vehicles(60))
    assert await poll_until(lambda: _equals(times_sent(client, sub_id), 60), "timesSent = 60", timeout=5)
    assert await quiet(redis, client.tenant)


async def _equals(value: Any, expected: int) -> bool | None:
    return (await value) == expected or None


async def test_killed_worker_mid_delivery_is_taken_over(
    client: Any, receiver: Any, workers: Any, redis: Redis
) -> None:
    receiver.hold = asyncio.Event()  # deliveries hang until released
    first = await workers()
    sub_id = await subscribe(client, receiver.url())
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(5))
    await poll_until(lambda: receiver.arrived == 5 or None, "5 deliveries in flight", timeout=10)
    await first.stop()  # dies mid-delivery: nothing was acknowledged
    assert receiver.requests == []
    await workers()  # the survivor claims the pending entries once they are idle for 1 s
    await poll_until(lambda: receiver.arrived >= 10 or None, "the deliveries to be retried", timeout=10)
    receiver.hold.set()
    await poll_until(lambda: _equals(times_sent(client, sub_id), 5), "5 successful deliveries", timeout=10)
    delivered = {r.body["id"] for r in receiver.requests}
    assert len(delivered) == 5  # the same 5 notification ids: a receiver can drop the aborted duplicates
    assert await quiet(redis, client.tenant)


async def test_changes_made_while_no_worker_runs_are_notified_after_start(
    client: Any, receiver: Any, workers: Any
) -> None:
    sub_id = await subscribe(client, receiver.url())
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(3))
    await asyncio.sleep(0.3)
    assert receiver.requests == []  # no notifier anywhere: the changes wait in the stream
    await workers()  # a broker (re)starts
    await poll_until(
        lambda: len(receiver.requests) == 3 or None, "3 notifications after the start", timeout=10
    )
    assert await poll_until(lambda: _equals(times_sent(client, sub_id), 3), "timesSent = 3", timeout=5)


async def test_time_interval_fires_once_per_period_with_two_workers(
    client: Any, receiver: Any, workers: Any
) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(2))
    await subscribe(client, receiver.url(), timeInterval=1)
    started = time.monotonic()
    await workers()
    await workers()
    await asyncio.sleep(3.2)
    elapsed = time.monotonic() - started
    count = len(receiver.requests)
    periods = int(elapsed) + 2  # periods touched by the run, counting a partial one at each end
    assert 2 <= count <= periods, f"{count} notifications in {elapsed:.1f} s"
    ids = [r.body["id"] for r in receiver.requests]
    assert len(set(ids)) == len(ids)
    assert all(len(r.body["data"]) == 2 for r in receiver.requests)


async def test_throttling_holds_across_workers(client: Any, receiver: Any, workers: Any) -> None:
    await workers()
    await workers()
    await subscribe(client, receiver.url(), throttling=2)
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(10))
    await poll_until(lambda: len(receiver.requests) >= 1 or None, "a first notification", timeout=10)
    await asyncio.sleep(0.8)
    assert len(receiver.requests) == 1  # the other changes fell inside the throttling period


async def _period_with_room(interval: float, room: float) -> int:
    """The current period once at least `room` seconds of it are left (waits for the next one if not)."""
    now = time.time()
    if (int(now // interval) + 1) * interval - now < room:
        await asyncio.sleep((int(now // interval) + 1) * interval - now + 0.01)
    return int(time.time() // interval)


async def test_time_interval_period_of_a_dead_lease_owner_is_still_notified_once(
    client: Any, receiver: Any, workers: Any, redis: Redis
) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, vehicles(2))
    interval = 6.0
    sub_id = await subscribe(client, receiver.url(), timeInterval=interval)
    period = await _period_with_room(interval, 4.0)
    # A replica took this period's lease and died before queuing anything: its lease is all that is left.
    _, lease = PeriodLedger.keys(client.tenant, sub_id, interval, period)
    assert await redis.set(lease, "dead-replica", nx=True, px=1000)
    await workers()
    await workers()
    expected = notification_id(sub_id, f"interval:{period}")
    await poll_until(
        lambda: any(r.body["id"] == expected for r in receiver.requests) or None,
        "the dead owner's period to be notified by a survivor",
        timeout=10,
    )
    await asyncio.sleep(1.0)  # a duplicate from the second worker would have arrived by now
    assert [r.body["id"] for r in receiver.requests].count(expected) == 1


async def test_a_period_is_queued_once_however_often_it_is_finished(
    client: Any, receiver: Any, redis: Redis
) -> None:
    """A lease that expired while its owner still worked: the late finish is refused by the done marker."""
    sub_id = await subscribe(client, receiver.url(), timeInterval=3600)
    ledger, other = PeriodLedger(redis, "a"), PeriodLedger(redis, "b")
    period = int(time.time() // 3600)
    assert await ledger.claim(client.tenant, sub_id, 3600, period, 0.05) is Claim.MINE
    assert await other.claim(client.tenant, sub_id, 3600, period, 0.05) is Claim.BUSY
    await asyncio.sleep(0.1)  # the first owner's lease expires while it is still working
    assert await other.claim(client.tenant, sub_id, 3600, period, 5) is Claim.MINE
    outgoing = Outgoing(notification_id(sub_id, f"interval:{period}"), b"{}", "application/json", "")
    assert await other.finish(client.tenant, sub_id, 3600, period, Pending(sub_id, outgoing))
    assert not await ledger.finish(client.tenant, sub_id, 3600, period, Pending(sub_id, outgoing))
    assert await redis.xlen(f"{{t:{client.tenant}}}:notify") == 1
    assert await ledger.claim(client.tenant, sub_id, 3600, period, 5) is Claim.DONE
    # The next period is not done.
    assert await ledger.claim(client.tenant, sub_id, 3600, period + 1, 5) is Claim.MINE
