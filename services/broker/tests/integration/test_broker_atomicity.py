"""Atomic writes: failed writes leave no trace, every acknowledged write yields exactly one change event,
and concurrent writers of one entity all land."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from redis.asyncio import Redis

pytestmark = pytest.mark.integration


def thing(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "n": {"type": "Property", "value": n}}


async def _tenant_keys(redis: Redis, tenant: str) -> list[str]:
    return sorted([k.decode() async for k in redis.scan_iter(match=f"{{t:{tenant}}}:*")])


async def _events(redis: Redis, tenant: str) -> list[dict[str, str]]:
    entries = await redis.xrange(f"{{t:{tenant}}}:changes")
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


async def test_a_rejected_create_leaves_no_keys_and_no_event(client: Any, redis: Redis) -> None:
    await client.problem("CreateEntity", pb.CreateEntityRequest(entity=b'{"id": "urn:x:1", "type": 5}'))
    assert await _tenant_keys(redis, client.tenant) == []
    await client.create(thing(1))
    keys_before = await _tenant_keys(redis, client.tenant)
    types_before = await redis.hgetall(f"{{t:{client.tenant}}}:types")
    duplicate = await client.problem("CreateEntity", pb.CreateEntityRequest(entity=orjson.dumps(thing(1))))
    assert duplicate.kind == "AlreadyExists"
    assert await _tenant_keys(redis, client.tenant) == keys_before
    assert await redis.hgetall(f"{{t:{client.tenant}}}:types") == types_before
    assert [e["op"] for e in await _events(redis, client.tenant)] == ["create"]


async def test_one_change_event_per_acknowledged_write(client: Any, redis: Redis) -> None:
    await client.create(thing(1))
    for value in (2, 3):
        fragment = orjson.dumps({"n": {"type": "Property", "value": value}})
        await client.call(
            "UpdateAttributes", pb.AttributesRequest(id="urn:ngsi-ld:Thing:1", fragment=fragment)
        )
    await client.problem(
        "PartialUpdateAttribute",
        pb.AttributeRequest(id="urn:ngsi-ld:Thing:1", attribute="missing", fragment=b'{"value": 1}'),
    )
    await client.call("DeleteEntity", pb.DeleteEntityRequest(id="urn:ngsi-ld:Thing:1"))
    events = await _events(redis, client.tenant)
    assert [e["op"] for e in events] == ["create", "update", "update", "delete"]
    assert {e["id"] for e in events} == {"urn:ngsi-ld:Thing:1"}
    assert orjson.loads(events[1]["before"])["attrs"] != orjson.loads(events[1]["after"])["attrs"]
    assert events[3]["after"] == ""
    versions = [int(e["v"]) for e in events[:3]]
    assert versions == sorted(versions) and len(set(versions)) == 3
    # After the delete nothing but the stream and the version sequence remain.
    assert await _tenant_keys(redis, client.tenant) == [
        f"{{t:{client.tenant}}}:changes",
        f"{{t:{client.tenant}}}:seq",
    ]


async def test_concurrent_updates_of_one_entity_all_land(client: Any, redis: Redis) -> None:
    await client.create(thing(1))
    writers = 24

    async def append(i: int) -> None:
        fragment = orjson.dumps({f"a{i}": {"type": "Property", "value": i}})
        await client.call(
            "AppendAttributes", pb.AttributesRequest(id="urn:ngsi-ld:Thing:1", fragment=fragment)
        )

    await asyncio.gather(*(append(i) for i in range(writers)))
    entity = await client.get("urn:ngsi-ld:Thing:1", format=pb.FORMAT_KEY_VALUES)
    assert {f"a{i}" for i in range(writers)} <= entity.keys()
    assert len(await _events(redis, client.tenant)) == 1 + writers
    # Counters agree with the one entity: each attribute counted once.
    attrs = await redis.hgetall(f"{{t:{client.tenant}}}:attrs")
    assert len(attrs) == writers + 1 and set(attrs.values()) == {b"1"}


async def test_a_batch_repeating_one_id_applies_every_item_in_order(client: Any) -> None:
    items = [thing(1), {**thing(1), "m": {"type": "Property", "value": 1}}, {**thing(1), "n": 99}]
    items[2]["n"] = {"type": "Property", "value": 99}
    response = await client.batch(pb.BATCH_OPERATION_UPSERT, items)
    assert list(response.success) == ["urn:ngsi-ld:Thing:1"] * 3
    assert list(response.created) == ["urn:ngsi-ld:Thing:1"]
    entity = await client.get("urn:ngsi-ld:Thing:1", format=pb.FORMAT_KEY_VALUES)
    assert (entity["n"], entity["m"]) == (99, 1)


async def test_writes_survive_a_lost_script_cache(client: Any, redis: Redis) -> None:
    await redis.script_flush()
    await client.create(thing(1))
    await redis.script_flush()
    response = await client.batch(pb.BATCH_OPERATION_CREATE, [thing(2), thing(3), thing(1)])
    assert list(response.success) == ["urn:ngsi-ld:Thing:2", "urn:ngsi-ld:Thing:3"]
    assert [e.entity_id for e in response.errors] == ["urn:ngsi-ld:Thing:1"]
    assert orjson.loads(response.errors[0].problem)["type"].endswith("AlreadyExists")
    assert [e["op"] for e in await _events(redis, client.tenant)] == ["create"] * 3
