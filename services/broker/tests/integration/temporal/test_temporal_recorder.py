"""The history recorder over real Valkey: at-least-once, restarts and dead replicas lose nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
from cityos_broker.ngsild.entity import parse_entity
from cityos_broker.ngsild.terms import core_term_map
from cityos_broker.store import Store, TenantKeys, utc_now
from cityos_broker.temporal.keys import RECORDER_GROUP, HistoryKeys
from cityos_broker.temporal.recorder import HistoryRecorder, to_write
from cityos_broker.temporal.store import HistoryStore
from cityos_devtools.polling import poll_until
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

SPEED = "https://uri.etsi.org/ngsi-ld/default-context/speed"
CAR = "urn:ngsi-ld:Car:r1"


@pytest.fixture
async def own_db(redis_url: str) -> AsyncIterator[Redis]:
    """A client on database 9: recorders here drain every tenant they find, so keep other tests' out."""
    parts = urlsplit(redis_url)
    client = Redis.from_url(urlunsplit(parts._replace(path="/9")))
    try:
        yield client
    finally:
        await client.aclose()


async def _five_changes(redis: Redis, tenant: str) -> Store:
    store = Store.over(redis)
    await store.tenants.ensure(tenant)
    await store.entities.create(
        tenant, parse_entity({"id": CAR, "type": "Car", "speed": 0}, core_term_map(), utc_now())
    )
    for speed in range(1, 5):

        def faster(current: dict[str, Any] | None, speed: int = speed) -> dict[str, Any]:
            assert current is not None
            now = utc_now()
            instance = {"type": "Property", "value": speed, "createdAt": now, "modifiedAt": now}
            return {**current, "modifiedAt": now, "attrs": {**current["attrs"], SPEED: [instance]}}

        await store.entities.apply(tenant, CAR, faster)
    return store


async def _recorded(redis: Redis, tenant: str) -> list[Any]:
    return list(await redis.zrange(HistoryKeys(tenant).instances(CAR, SPEED), 0, -1))


async def _take_without_ack(redis: Redis, tenant: str, consumer: str) -> int:
    """What a replica that dies right after reading leaves behind: pending, unacknowledged entries."""
    replies = await redis.xreadgroup(RECORDER_GROUP, consumer, {TenantKeys(tenant).changes: ">"}, count=100)
    return sum(len(entries) for _, entries in replies)


async def test_a_restarted_recorder_rereads_its_pending_entries(own_db: Redis, unique_tenant: str) -> None:
    history = HistoryStore(own_db)
    await own_db.sadd("cityos:tenants", unique_tenant)
    await HistoryRecorder(own_db, history, consumer="replica-a").drain()  # creates the group
    await _five_changes(own_db, unique_tenant)
    assert await _take_without_ack(own_db, unique_tenant, "replica-a") == 5
    assert await _recorded(own_db, unique_tenant) == []

    restarted = HistoryRecorder(own_db, history, consumer="replica-a", claim_idle_ms=600_000)
    assert await restarted.drain() == 5
    assert len(await _recorded(own_db, unique_tenant)) == 5
    pending = await own_db.xpending(TenantKeys(unique_tenant).changes, RECORDER_GROUP)
    assert pending["pending"] == 0


async def test_entries_of_a_dead_replica_are_claimed(own_db: Redis, unique_tenant: str) -> None:
    history = HistoryStore(own_db)
    await own_db.sadd("cityos:tenants", unique_tenant)
    await HistoryRecorder(own_db, history, consumer="replica-x").drain()
    await _five_changes(own_db, unique_tenant)
    assert await _take_without_ack(own_db, unique_tenant, "dead-replica") == 5

    survivor = HistoryRecorder(own_db, history, consumer="replica-b", claim_idle_ms=200)

    async def recorded_all() -> bool:
        await survivor.drain()
        return len(await _recorded(own_db, unique_tenant)) == 5

    await poll_until(recorded_all, "the survivor to claim and record the dead replica's entries", timeout=10)


async def test_recording_an_entry_twice_changes_nothing(own_db: Redis, unique_tenant: str) -> None:
    history = HistoryStore(own_db)
    await own_db.sadd("cityos:tenants", unique_tenant)
    await _five_changes(own_db, unique_tenant)
    await HistoryRecorder(own_db, history, consumer="replica-c").drain()  # from "0": earlier events count
    before = await _recorded(own_db, unique_tenant)
    entries = await own_db.xrange(TenantKeys(unique_tenant).changes)
    await history.record(unique_tenant, [to_write(entry_id.decode(), fields) for entry_id, fields in entries])
    assert await _recorded(own_db, unique_tenant) == before
    assert [orjson.loads(member)["value"] for member in before] == [0, 1, 2, 3, 4]


async def test_a_purged_tenant_does_not_stop_the_others(own_db: Redis, unique_tenant: str) -> None:
    history = HistoryStore(own_db)
    gone, kept = f"{unique_tenant}-gone", f"{unique_tenant}-kept"
    store = await _five_changes(own_db, gone)
    await _five_changes(own_db, kept)
    recorder = HistoryRecorder(own_db, history, consumer="replica-d", tenant_refresh=3600)
    await recorder.drain()
    assert len(await _recorded(own_db, kept)) == 5
    await store.tenants.purge(gone)  # its change stream and consumer group disappear with its keys

    def faster(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current is not None
        now = utc_now()
        instance = {"type": "Property", "value": 99, "createdAt": now, "modifiedAt": now}
        return {**current, "modifiedAt": now, "attrs": {**current["attrs"], SPEED: [instance]}}

    await store.entities.apply(kept, CAR, faster)

    async def recorded_kept() -> bool:
        await recorder.step(block=False)  # no tenant refresh is due: the NOGROUP reply must trigger it
        return len(await _recorded(own_db, kept)) == 6

    await poll_until(recorded_kept, "the change of the remaining tenant to be recorded", timeout=10)
