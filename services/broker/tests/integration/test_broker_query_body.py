"""Query options that widen or shape a query: local=true and the POST Query body's lang."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb

pytestmark = pytest.mark.integration

GAUGE = {
    "id": "urn:ngsi-ld:WaterLevelGauge:1",
    "type": "WaterLevelGauge",
    "name": {"type": "LanguageProperty", "languageMap": {"ja": "豊平川", "en": "Toyohira River"}},
}
SHELTER = {"id": "urn:ngsi-ld:EvacuationShelter:1", "type": "EvacuationShelter"}


async def test_a_query_without_selector_is_400_unless_local(client: Any) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, [GAUGE, SHELTER])
    problem = await client.problem("QueryEntities", pb.QueryEntitiesRequest(query=pb.EntityQuery()))
    assert (problem.status, problem.kind) == (400, "BadRequestData")
    entities, total = await client.query(local=True, count=True)
    assert [e["id"] for e in entities] == [SHELTER["id"], GAUGE["id"]]
    assert total == 2


async def test_query_body_lang_picks_one_language(client: Any) -> None:
    await client.create(GAUGE)
    body = {"type": "Query", "entities": [{"type": "WaterLevelGauge"}], "lang": "en"}
    response = await client.call("QueryEntities", pb.QueryEntitiesRequest(query_body=orjson.dumps(body)))
    (entity,) = orjson.loads(response.document.body)
    assert entity["name"] == {"type": "Property", "value": "Toyohira River", "lang": "en"}


async def test_query_body_local_lists_everything(client: Any) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, [GAUGE, SHELTER])
    body = {"type": "Query", "local": True}
    response = await client.call("QueryEntities", pb.QueryEntitiesRequest(query_body=orjson.dumps(body)))
    assert {e["id"] for e in orjson.loads(response.document.body)} == {GAUGE["id"], SHELTER["id"]}
