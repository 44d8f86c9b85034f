"""Batch operations: BatchRequest mapping and the 201 / 204 / 207 outcomes."""

from __future__ import annotations

from typing import Any

import httpx
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

BASE = "/ngsi-ld/v1/entityOperations"
JSON = {"content-type": "application/json"}
ENTITIES = b'[{"id":"urn:a","type":"T"},{"id":"urn:b","type":"T"}]'


async def test_create_all_success_is_201_with_ids(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["Batch"] = pb.BatchResponse(success=["urn:a", "urn:b"])
    response = await client.post(f"{BASE}/create", content=ENTITIES, headers=JSON)
    assert response.status_code == 201
    assert response.json() == ["urn:a", "urn:b"]
    assert broker.last.request.operation == pb.BATCH_OPERATION_CREATE
    assert broker.last.request.entities == ENTITIES


async def test_errors_give_207_batch_operation_result(client: httpx.AsyncClient, broker: Any) -> None:
    problem = ProblemError("AlreadyExists", "urn:b exists")
    broker.replies["Batch"] = pb.BatchResponse(
        success=["urn:a"], errors=[pb.BatchEntityError(entity_id="urn:b", problem=problem.to_json())]
    )
    response = await client.post(f"{BASE}/create", content=ENTITIES, headers=JSON)
    assert response.status_code == 207
    assert response.json() == {
        "success": ["urn:a"],
        "errors": [{"entityId": "urn:b", "error": problem.to_dict()}],
    }


async def test_upsert_created_is_201_and_updated_is_204(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["Batch"] = pb.BatchResponse(success=["urn:a", "urn:b"], created=["urn:b"])
    response = await client.post(f"{BASE}/upsert", content=ENTITIES, headers=JSON)
    assert response.status_code == 201
    assert response.json() == ["urn:b"]
    broker.replies["Batch"] = pb.BatchResponse(success=["urn:a", "urn:b"])
    response = await client.post(f"{BASE}/upsert?options=replace", content=ENTITIES, headers=JSON)
    assert response.status_code == 204
    assert broker.last.request.operation == pb.BATCH_OPERATION_UPSERT
    assert broker.last.request.replace


async def test_upsert_replaces_by_default_and_updates_with_options_update(
    client: httpx.AsyncClient, broker: Any
) -> None:
    broker.replies["Batch"] = pb.BatchResponse(success=["urn:a", "urn:b"])
    await client.post(f"{BASE}/upsert", content=ENTITIES, headers=JSON)
    assert broker.last.request.replace
    await client.post(f"{BASE}/upsert?options=update", content=ENTITIES, headers=JSON)
    assert not broker.last.request.replace


async def test_upsert_with_replace_and_update_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(f"{BASE}/upsert?options=replace,update", content=ENTITIES, headers=JSON)
    assert response.status_code == 400
    assert not broker.calls


async def test_update_no_overwrite_delete_and_merge_are_204(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(f"{BASE}/update?options=noOverwrite", content=ENTITIES, headers=JSON)
    assert response.status_code == 204
    assert broker.last.request.operation == pb.BATCH_OPERATION_UPDATE
    assert broker.last.request.no_overwrite
    response = await client.post(f"{BASE}/delete", content=b'["urn:a"]', headers=JSON)
    assert response.status_code == 204
    assert broker.last.request.operation == pb.BATCH_OPERATION_DELETE
    response = await client.post(f"{BASE}/merge", content=ENTITIES, headers=JSON)
    assert response.status_code == 204
    assert broker.last.request.operation == pb.BATCH_OPERATION_MERGE


async def test_empty_batch_body_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(f"{BASE}/create", content=b"  ", headers=JSON)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/InvalidRequest")
    assert not broker.calls


async def test_post_query_passes_body_and_url_paging(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["QueryEntities"] = pb.QueryEntitiesResponse(
        document=pb.Document(body=b"[]", content_type="application/json"), count=3
    )
    body = b'{"type":"Query","entities":[{"type":"T"}]}'
    response = await client.post(
        f"{BASE}/query?limit=2&offset=1&count=true&options=keyValues", content=body, headers=JSON
    )
    assert response.status_code == 200
    assert response.headers["ngsild-results-count"] == "3"
    request = broker.last.request
    assert request.query_body == body
    assert (request.limit, request.offset, request.count, request.limit_set) == (2, 1, True, True)
    assert request.render.format == pb.FORMAT_KEY_VALUES
