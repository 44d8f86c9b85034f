"""Entity lifecycle through the gRPC API: create, retrieve, query, update, delete, errors and limits."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


def gauge(n: int, level: float = 1.0) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Gauge:{n:04d}",
        "type": "Gauge",
        "level": {"type": "Property", "value": level, "unitCode": "MTR"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.35, 43.06]}},
    }


@pytest.mark.redis_modes("standalone", "cluster", "sentinel")
async def test_create_retrieve_query_delete(client: Any) -> None:
    assert await client.create(gauge(1, 3.2)) == "urn:ngsi-ld:Gauge:0001"
    await client.create(gauge(2, 0.5))
    entity = await client.get("urn:ngsi-ld:Gauge:0001")
    assert entity["type"] == "Gauge"
    assert entity["level"] == {"type": "Property", "value": 3.2, "unitCode": "MTR"}
    key_values = await client.get("urn:ngsi-ld:Gauge:0001", format=pb.FORMAT_KEY_VALUES)
    assert key_values["level"] == 3.2

    found, total = await client.query(type="Gauge", q="level>1", count=True)
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Gauge:0001"]
    assert total == 1
    everything, total = await client.query(type="Gauge", count=True)
    assert [e["id"] for e in everything] == ["urn:ngsi-ld:Gauge:0001", "urn:ngsi-ld:Gauge:0002"]
    assert total == 2

    await client.call("DeleteEntity", pb.DeleteEntityRequest(id="urn:ngsi-ld:Gauge:0001"))
    problem = await client.problem("RetrieveEntity", pb.RetrieveEntityRequest(id="urn:ngsi-ld:Gauge:0001"))
    assert (problem.kind, problem.status) == ("ResourceNotFound", 404)
    assert [e["id"] for e in (await client.query(type="Gauge"))[0]] == ["urn:ngsi-ld:Gauge:0002"]


async def test_attribute_operations_change_the_stored_entity(client: Any) -> None:
    await client.create(gauge(1))
    append = pb.AttributesRequest(
        id="urn:ngsi-ld:Gauge:0001", fragment=orjson.dumps({"status": {"type": "Property", "value": "ok"}})
    )
    response = await client.call("AppendAttributes", append)
    assert list(response.updated) == ["status"]
    patch = pb.AttributeRequest(
        id="urn:ngsi-ld:Gauge:0001", attribute="level", fragment=orjson.dumps({"value": 7})
    )
    await client.call("PartialUpdateAttribute", patch)
    await client.call(
        "DeleteAttribute", pb.DeleteAttributeRequest(id="urn:ngsi-ld:Gauge:0001", attribute="location")
    )
    entity = await client.get("urn:ngsi-ld:Gauge:0001", format=pb.FORMAT_KEY_VALUES)
    assert entity == {"id": "urn:ngsi-ld:Gauge:0001", "type": "Gauge", "level": 7, "status": "ok"}
    merge = pb.EntityFragmentRequest(
        id="urn:ngsi-ld:Gauge:0001", fragment=orjson.dumps({"status": "urn:ngsi-ld:null"})
    )
    await client.call("MergeEntity", merge)
    assert "status" not in await client.get("urn:ngsi-ld:Gauge:0001")


async def test_bad_input_and_missing_entities_are_problems(client: Any) -> None:
    bad = await client.problem("CreateEntity", pb.CreateEntityRequest(entity=b"{not json"))
    assert (bad.kind, bad.status) == ("InvalidRequest", 400)
    no_id = await client.problem("CreateEntity", pb.CreateEntityRequest(entity=b'{"type": "Gauge"}'))
    assert no_id.status == 400
    await client.create(gauge(1))
    dup = await client.problem("CreateEntity", pb.CreateEntityRequest(entity=orjson.dumps(gauge(1))))
    assert (dup.kind, dup.status) == ("AlreadyExists", 409)
    missing = await client.problem(
        "MergeEntity", pb.EntityFragmentRequest(id="urn:ngsi-ld:Gauge:9999", fragment=b'{"a": 1}')
    )
    assert missing.status == 404
    unselective = await client.problem("QueryEntities", pb.QueryEntitiesRequest())
    assert unselective.status == 400


async def test_limits_and_count_only(client: Any) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, [gauge(n) for n in range(5)])
    page, total = await client.query(type="Gauge", limit=0, count=True)
    assert (page, total) == ([], 5)
    too_many = await client.problem(
        "QueryEntities",
        pb.QueryEntitiesRequest(query=pb.EntityQuery(type="Gauge"), limit=5000, limit_set=True),
    )
    assert (too_many.kind, too_many.status) == ("TooManyResults", 403)
    zero = await client.problem(
        "QueryEntities", pb.QueryEntitiesRequest(query=pb.EntityQuery(type="Gauge"), limit=0, limit_set=True)
    )
    assert zero.status == 400
    default_page, _ = await client.query(type="Gauge")
    assert len(default_page) == 5


async def test_batch_upsert_reports_created_ids_and_per_entity_errors(client: Any) -> None:
    await client.create(gauge(1))
    response = await client.batch(pb.BATCH_OPERATION_UPSERT, [gauge(1, 9.0), gauge(2), {"type": "Gauge"}])
    assert list(response.success) == ["urn:ngsi-ld:Gauge:0001", "urn:ngsi-ld:Gauge:0002"]
    assert list(response.created) == ["urn:ngsi-ld:Gauge:0002"]
    assert len(response.errors) == 1
    assert orjson.loads(response.errors[0].problem)["status"] == 400
    assert (await client.get("urn:ngsi-ld:Gauge:0001", format=pb.FORMAT_KEY_VALUES))["level"] == 9.0
    deleted = await client.batch(
        pb.BATCH_OPERATION_DELETE, ["urn:ngsi-ld:Gauge:0001", "urn:ngsi-ld:Gauge:0404"]
    )
    assert list(deleted.success) == ["urn:ngsi-ld:Gauge:0001"]
    assert [e.entity_id for e in deleted.errors] == ["urn:ngsi-ld:Gauge:0404"]


async def test_not_yet_built_apis_say_so(client: Any) -> None:
    problem = await client.problem("CreateRegistration", pb.ResourceRequest())
    assert (problem.kind, problem.status) == ("OperationNotSupported", 501)
    assert "data-flows" in problem.detail


async def test_unknown_tenants(client: Any, start_broker: Any, redis_url: str) -> None:
    stranger = client.as_tenant(client.tenant + "-unknown")
    problem = await stranger.problem("RetrieveEntity", pb.RetrieveEntityRequest(id="urn:x:1"))
    assert (problem.kind, problem.status) == ("NonexistentTenant", 404)
    bad_name = await client.as_tenant("Not Valid").problem(
        "RetrieveEntity", pb.RetrieveEntityRequest(id="urn:x:1")
    )
    assert bad_name.status == 400
    async with start_broker(redis_url, BROKER_AUTO_CREATE_TENANTS="false") as (_, stub):
        strict = type(client)(stub, client.tenant + "-strict")
        refused = await strict.problem("CreateEntity", pb.CreateEntityRequest(entity=orjson.dumps(gauge(1))))
        assert refused.kind == "NonexistentTenant"


async def test_json_ld_bodies_carry_their_own_context(client: Any) -> None:
    context = {"level": "https://example.org/ns#level", "Gauge": "https://example.org/ns#Gauge"}
    items = [{**gauge(n), "@context": [context]} for n in (1, 2)]
    ld = pb.LdRequest(content_type="application/ld+json")
    response = await client.call(
        "Batch", pb.BatchRequest(operation=pb.BATCH_OPERATION_CREATE, ld=ld, entities=orjson.dumps(items))
    )
    assert len(response.success) == 2
    # Read with the core context only: the terms come back as the IRIs the body's context gave them.
    stored = await client.get("urn:ngsi-ld:Gauge:0001")
    assert stored["type"] == "https://example.org/ns#Gauge"
    assert "https://example.org/ns#level" in stored
    as_ld = await client.get("urn:ngsi-ld:Gauge:0001", media_type=pb.MEDIA_TYPE_JSON_LD)
    assert "@context" in as_ld
    missing = await client.problem(
        "CreateEntity", pb.CreateEntityRequest(ld=ld, entity=orjson.dumps(gauge(3)))
    )
    assert missing.status == 400  # ld+json without @context
