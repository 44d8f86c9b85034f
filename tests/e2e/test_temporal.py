"""Temporal API end to end (ETSI GS CIM 009, clauses 5.6.11-5.6.20, 5.7.3-5.7.4): history of every change."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from cityos_devtools.polling import poll_until

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


async def _poll(tenant_client: httpx.Client, entity_id: str, count: int) -> dict[str, Any]:
    async def recorded() -> dict[str, Any] | None:
        response = tenant_client.get(f"/temporal/entities/{entity_id}")
        if response.status_code != 200:
            return None
        doc: dict[str, Any] = response.json()
        return doc if len(doc.get("waterLevel", [])) >= count else None

    return await poll_until(recorded, f"{count} recorded waterLevel instances", timeout=15)


async def test_updates_are_history_with_last_n_and_aggregated_values(tenant_client: httpx.Client) -> None:
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:8]}"
    entity = {"id": entity_id, "type": "WaterLevelGauge", "waterLevel": {"type": "Property", "value": 1.0}}
    assert tenant_client.post("/entities", json=entity).status_code == 201
    for level in (2.0, 3.5, 5.5):
        response = tenant_client.patch(
            f"/entities/{entity_id}/attrs", json={"waterLevel": {"type": "Property", "value": level}}
        )
        assert response.status_code == 204, response.text

    doc = await _poll(tenant_client, entity_id, 4)
    assert doc["id"] == entity_id and doc["type"] == "WaterLevelGauge"
    assert [i["value"] for i in doc["waterLevel"]] == [1.0, 2.0, 3.5, 5.5]
    assert all(i["instanceId"].startswith("urn:ngsi-ld:attribute:instance:") for i in doc["waterLevel"])

    last = tenant_client.get(f"/temporal/entities/{entity_id}", params={"lastN": "2"})
    assert last.status_code == 206, last.text
    assert last.headers["content-range"].startswith("DateTime ") and last.headers["content-range"].endswith(
        "/2"
    )
    assert [i["value"] for i in last.json()["waterLevel"]] == [3.5, 5.5]

    aggregated = tenant_client.get(
        f"/temporal/entities/{entity_id}",
        params={"options": "aggregatedValues", "aggrMethods": "totalCount,sum,avg,min,max"},
    )
    assert aggregated.status_code == 200, aggregated.text
    water = aggregated.json()["waterLevel"]
    assert water["type"] == "Property"
    assert [water[m][0][0] for m in ("totalCount", "sum", "avg", "min", "max")] == [4, 12.0, 3.0, 1.0, 5.5]

    found = tenant_client.get("/temporal/entities", params={"type": "WaterLevelGauge", "lastN": "1"})
    assert found.status_code == 206, found.text
    assert [(e["id"], [i["value"] for i in e["waterLevel"]]) for e in found.json()] == [(entity_id, [5.5])]


def test_temporal_create_and_bad_timerel(tenant_client: httpx.Client) -> None:
    entity_id = f"urn:ngsi-ld:Room:{uuid.uuid4().hex[:8]}"
    body = {
        "id": entity_id,
        "type": "Room",
        "temperature": [
            {"type": "Property", "value": 20, "observedAt": "2026-11-20T10:00:00Z"},
            {"type": "Property", "value": 22, "observedAt": "2026-11-20T11:00:00Z"},
        ],
    }
    created = tenant_client.post("/temporal/entities", json=body)
    assert created.status_code == 201, created.text
    assert tenant_client.post("/temporal/entities", json=body).status_code == 204
    between = tenant_client.get(
        f"/temporal/entities/{entity_id}",
        params={"timerel": "between", "timeAt": "2026-11-20T10:30:00Z", "endTimeAt": "2026-11-20T12:00:00Z"},
    )
    assert [i["value"] for i in between.json()["temperature"]] == [22, 22]
    bad = tenant_client.get(
        f"/temporal/entities/{entity_id}", params={"timerel": "between", "timeAt": "2026-11-20T10:30:00Z"}
    )
    assert bad.status_code == 400 and bad.json()["type"] == ERRORS + "BadRequestData"
    assert tenant_client.delete(f"/temporal/entities/{entity_id}").status_code == 204
    assert tenant_client.get(f"/temporal/entities/{entity_id}").status_code == 404
