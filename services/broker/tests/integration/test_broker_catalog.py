"""Discovery counters, persistence across a broker restart, tenant isolation and hosted @contexts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from redis.asyncio import Redis

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


def entity(n: int, kind: str, **attrs: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": f"urn:ngsi-ld:{kind}:{n}", "type": kind}
    doc.update({name: {"type": "Property", "value": value} for name, value in attrs.items()})
    return doc


async def test_discovery_counters_stay_right_after_deletes(client: Any) -> None:
    await client.batch(
        pb.BATCH_OPERATION_CREATE,
        [entity(1, "Bus", speed=1, route=2), entity(2, "Bus", speed=3), entity(1, "Plough", speed=4)],
    )
    await client.call("DeleteEntity", pb.DeleteEntityRequest(id="urn:ngsi-ld:Bus:1"))
    types = await client.document("ListTypes", pb.DiscoveryRequest())
    assert types["type"] == "EntityTypeList" and types["typeList"] == ["Bus", "Plough"]
    bus = await client.document("RetrieveType", pb.DiscoveryRequest(name="Bus"))
    assert bus["entityCount"] == 1
    assert [a["attributeName"] for a in bus["attributeDetails"]] == ["speed"]  # route left with Bus:1
    speed = await client.document("RetrieveAttribute", pb.DiscoveryRequest(name="speed"))
    assert (speed["attributeCount"], speed["attributeTypes"], speed["typeNames"]) == (
        2,
        ["Property"],
        ["Bus", "Plough"],
    )
    gone = await client.problem("RetrieveAttribute", pb.DiscoveryRequest(name="route"))
    assert gone.status == 404
    await client.batch(pb.BATCH_OPERATION_DELETE, ["urn:ngsi-ld:Bus:2"])
    assert (await client.document("ListTypes", pb.DiscoveryRequest()))["typeList"] == ["Plough"]
    detailed = await client.document("ListAttributes", pb.DiscoveryRequest(details=True))
    assert [(a["attributeName"], a["attributeCount"]) for a in detailed] == [("speed", 1)]


async def test_data_survives_a_broker_restart(start_broker: Any, redis_url: str, unique_tenant: str) -> None:
    metadata = (("ngsild-tenant", unique_tenant),)
    async with start_broker(redis_url) as (_, stub):
        await stub.CreateEntity(
            pb.CreateEntityRequest(entity=orjson.dumps(entity(1, "Gauge", level=2))), metadata=metadata
        )
        before = (
            await stub.RetrieveEntity(pb.RetrieveEntityRequest(id="urn:ngsi-ld:Gauge:1"), metadata=metadata)
        ).body
    async with start_broker(redis_url) as (_, stub):
        after = (
            await stub.RetrieveEntity(pb.RetrieveEntityRequest(id="urn:ngsi-ld:Gauge:1"), metadata=metadata)
        ).body
        assert orjson.loads(after) == orjson.loads(before)
        found = await stub.QueryEntities(
            pb.QueryEntitiesRequest(query=pb.EntityQuery(type="Gauge"), count=True), metadata=metadata
        )
        assert found.count == 1


async def test_tenants_are_isolated_in_the_store(client: Any, redis: Redis) -> None:
    other = client.as_tenant(client.tenant + "-b")
    await client.create(entity(1, "Gauge", level=1))
    await other.create(entity(1, "Gauge", level=2))
    assert (await client.get("urn:ngsi-ld:Gauge:1", format=pb.FORMAT_KEY_VALUES))["level"] == 1
    assert (await other.get("urn:ngsi-ld:Gauge:1", format=pb.FORMAT_KEY_VALUES))["level"] == 2
    await client.call("DeleteEntity", pb.DeleteEntityRequest(id="urn:ngsi-ld:Gauge:1"))
    assert (await other.get("urn:ngsi-ld:Gauge:1"))["id"] == "urn:ngsi-ld:Gauge:1"
    assert (await client.query(type="Gauge"))[0] == []
    tenants = await client.call("ListTenants", pb.ListTenantsRequest())
    assert {client.tenant, other.tenant} <= set(tenants.tenants)
    purged = await client.call("PurgeTenant", pb.TenantRequest(tenant=other.tenant))
    assert purged.exists is False
    assert [k async for k in redis.scan_iter(match=f"{{t:{other.tenant}}}:*")] == []
    assert (await client.call("GetTenant", pb.TenantRequest(tenant=other.tenant))).exists is False


async def test_hosted_contexts_resolve_terms(client: Any) -> None:
    document = {"@context": {"waterLevel": "https://example.org/ns#waterLevel"}}
    added = await client.call("AddContext", pb.ContextRequest(context=orjson.dumps(document)))
    assert added.id
    served = await client.call("ServeContext", pb.ContextRequest(id=added.id))
    assert orjson.loads(served.document.body) == document
    url = f"https://broker.example/ngsi-ld/v1/jsonldContexts/{added.id}"
    create = pb.CreateEntityRequest(
        ld=pb.LdRequest(content_type="application/json", link_context=url),
        entity=orjson.dumps(entity(1, "Gauge", waterLevel=3)),
    )
    await client.call("CreateEntity", create)
    # The term expanded through the hosted context; listed with the core context it shows as its IRI.
    names = await client.document("ListAttributes", pb.DiscoveryRequest())
    assert names["attributeList"] == ["https://example.org/ns#waterLevel"]
    compacted = await client.document(
        "ListAttributes", pb.DiscoveryRequest(render=pb.Render(link_context=url))
    )
    assert compacted["attributeList"] == ["waterLevel"]
    listed = await client.call("ListContexts", pb.ContextRequest(kind="hosted"))
    assert any(added.id in u for u in orjson.loads(listed.document.body))
    await client.call("DeleteContext", pb.ContextRequest(id=added.id))
    missing = await client.problem("ServeContext", pb.ContextRequest(id=added.id))
    assert missing.status == 404


async def test_the_core_context_is_served_from_the_bundled_copy(client: Any) -> None:
    url = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
    served = await client.call("ServeContext", pb.ContextRequest(id=url))
    assert orjson.loads(served.document.body)["@context"]["id"] == "@id"
    refused = await client.problem("DeleteContext", pb.ContextRequest(id=url))
    assert refused.status == 400


async def test_attribute_kinds_are_reported_per_type(client: Any) -> None:
    bus = entity(1, "Bus", depot="Kita")
    plough = {**entity(1, "Plough"), "depot": {"type": "Relationship", "object": "urn:ngsi-ld:Depot:1"}}
    await client.batch(pb.BATCH_OPERATION_CREATE, [bus, plough])
    bus_info = await client.document("RetrieveType", pb.DiscoveryRequest(name="Bus"))
    assert bus_info["attributeDetails"][0]["attributeTypes"] == ["Property"]
    plough_info = await client.document("RetrieveType", pb.DiscoveryRequest(name="Plough"))
    assert plough_info["attributeDetails"][0]["attributeTypes"] == ["Relationship"]
    depot = await client.document("RetrieveAttribute", pb.DiscoveryRequest(name="depot"))
    assert depot["attributeTypes"] == ["Property", "Relationship"]
