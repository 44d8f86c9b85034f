"""Retention: old days move to S3 under a lease; queries spanning Redis and S3 answer each instance once."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_broker.temporal.archive import ArchiveJob, cutoff_ms
from cityos_broker.temporal.blobs import S3HistoryArchive, object_prefix
from cityos_broker.temporal.keys import ARCHIVE_LEASE_KEY, HistoryKeys
from cityos_broker.temporal.settings import TemporalSettings
from cityos_broker.temporal.store import HistoryStore
from cityos_broker.temporal.timeutil import day_of, from_ms
from cityos_devtools.polling import poll_until
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

DAY = 86_400_000.0
GAUGE = "urn:ngsi-ld:Gauge:archive-1"
LEVEL = "https://uri.etsi.org/ngsi-ld/default-context/level"


def _at(day_ms: float, hour: int) -> str:
    return from_ms(day_ms + hour * 3_600_000)


async def test_old_days_move_to_s3_and_queries_still_answer(
    temporal_client: Any, redis: Redis, s3_settings: Any
) -> None:
    tenant = temporal_client.tenant
    now = time.time() * 1000.0
    old = cutoff_ms(now, 10 * DAY)  # midnight of a day 10 days back
    older = cutoff_ms(now, 3 * DAY)
    levels = [
        {"type": "Property", "value": 1.0, "observedAt": _at(old, 10)},
        {"type": "Property", "value": 2.0, "observedAt": _at(old, 11)},
        {"type": "Property", "value": 3.0, "observedAt": _at(older, 9)},
        {"type": "Property", "value": 4.0, "observedAt": from_ms(now)},
    ]
    await temporal_client.create_temporal({"id": GAUGE, "type": "Gauge", "level": levels})

    settings = TemporalSettings.from_env(environ=s3_settings.as_env())
    assert settings.s3 is not None
    archive = S3HistoryArchive(settings.s3.client(), settings.s3.bucket)
    job = ArchiveJob(
        redis, HistoryStore(redis), archive, owner="archive-test", retention_ms=2 * DAY, interval=3600
    )
    key = HistoryKeys(tenant).instances(GAUGE, LEVEL)

    async def archived() -> bool:
        await job.run_once()  # 0 while another replica (the test broker) holds the lease
        return await redis.zcard(key) == 1

    await poll_until(archived, "the archive job to move the two old days to S3", timeout=30)
    assert [p[1]["value"] for p in await archive.get_day(tenant, GAUGE, LEVEL, day_of(old))] == [1.0, 2.0]
    assert [p[1]["value"] for p in await archive.get_day(tenant, GAUGE, LEVEL, day_of(older))] == [3.0]

    doc, _ = await temporal_client.temporal(GAUGE)
    assert [i["value"] for i in doc["level"]] == [1.0, 2.0, 3.0, 4.0]
    window = {"timerel": "between", "timeAt": _at(old, 0), "endTimeAt": _at(old, 24)}
    doc, _ = await temporal_client.temporal(GAUGE, **window)
    assert [i["value"] for i in doc["level"]] == [1.0, 2.0]
    doc, _ = await temporal_client.temporal(GAUGE, aggrMethods="totalCount,sum")
    assert (doc["level"]["totalCount"][0][0], doc["level"]["sum"][0][0]) == (4, 10.0)
    doc, content_range = await temporal_client.temporal(GAUGE, lastN="3")
    assert [i["value"] for i in doc["level"]] == [2.0, 3.0, 4.0] and content_range.endswith("/3")

    # A late instance for an archived day is merged into that day's object on the next run, never duplicated.
    late = {"level": {"type": "Property", "value": 5.0, "observedAt": _at(old, 12)}}
    await temporal_client.call(
        "AppendTemporalAttributes", pb.ResourceRequest(id=GAUGE, body=orjson.dumps(late))
    )
    await poll_until(archived, "the late instance to be archived", timeout=30)
    assert [p[1]["value"] for p in await archive.get_day(tenant, GAUGE, LEVEL, day_of(old))] == [
        1.0,
        2.0,
        5.0,
    ]
    doc, _ = await temporal_client.temporal(GAUGE)
    assert [i["value"] for i in doc["level"]] == [1.0, 2.0, 5.0, 3.0, 4.0]

    # Deleting an archived instance rewrites its day; deleting the entity removes its objects.
    victim = doc["level"][0]["instanceId"]
    await temporal_client.call(
        "DeleteTemporalAttribute", pb.ResourceRequest(id=GAUGE, attribute="level", instance_id=victim)
    )
    doc, _ = await temporal_client.temporal(GAUGE)
    assert [i["value"] for i in doc["level"]] == [2.0, 5.0, 3.0, 4.0]
    await temporal_client.call("DeleteTemporalEntity", pb.ResourceRequest(id=GAUGE))
    client = settings.s3.client()
    left = list(client.list_objects(settings.s3.bucket, prefix=object_prefix(tenant, GAUGE), recursive=True))
    assert left == []


async def test_only_the_lease_holder_archives(redis: Redis, s3_settings: Any) -> None:
    settings = TemporalSettings.from_env(environ=s3_settings.as_env())
    assert settings.s3 is not None
    archive = S3HistoryArchive(settings.s3.client(), settings.s3.bucket)
    job = ArchiveJob(redis, HistoryStore(redis), archive, owner="second", retention_ms=DAY, interval=3600)

    async def take_lease() -> bool:
        return bool(await redis.set(ARCHIVE_LEASE_KEY, "first", nx=True, px=5_000))

    await poll_until(take_lease, "the archive lease to be free", timeout=30)
    try:
        assert await job.run_once() == 0
        assert await redis.get(ARCHIVE_LEASE_KEY) == b"first"  # the other owner's lease is left alone
    finally:
        await redis.delete(ARCHIVE_LEASE_KEY)
