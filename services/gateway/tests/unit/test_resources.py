"""Subscription, temporal and registration routes: ResourceRequest mapping and statuses."""

from __future__ import annotations

from typing import Any

import httpx
from cityos.broker.v1 import broker_pb2 as pb

BASE = "/ngsi-ld/v1"
JSON = {"content-type": "application/json"}


async def test_create_subscription_is_201_with_location(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["CreateSubscription"] = pb.ResourceResponse(id="urn:ngsi-ld:Subscription:1")
    body = b'{"type":"Subscription"}'
    response = await client.post(f"{BASE}/subscriptions/", content=body, headers=JSON)
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:1"
    assert broker.last.request.body == body


async def test_query_subscriptions_with_paging_and_count(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["QuerySubscriptions"] = pb.ResourceResponse(
        document=pb.Document(body=b"[]", content_type="application/json"), count=7
    )
    response = await client.get(f"{BASE}/subscriptions?limit=3&offset=6&count=true")
    assert response.status_code == 200
    assert response.headers["ngsild-results-count"] == "7"
    assert (broker.last.request.limit, broker.last.request.offset, broker.last.request.count) == (3, 6, True)


async def test_temporal_parameters_travel_verbatim(client: httpx.AsyncClient, broker: Any) -> None:
    query = "type=T&timerel=between&timeAt=2024-01-01T00:00:00Z&endTimeAt=2024-01-02T00:00:00Z&lastN=5"
    response = await client.get(
        f"{BASE}/temporal/entities?{query}&options=temporalValues&aggrMethods=avg,max"
    )
    assert response.status_code == 200
    request = broker.last.request
    assert dict(request.params) == {
        "timerel": "between",
        "timeAt": "2024-01-01T00:00:00Z",
        "endTimeAt": "2024-01-02T00:00:00Z",
        "lastN": "5",
        "aggrMethods": "avg,max",
        "options": "temporalValues",
    }
    assert request.query.type == "T"


async def test_temporal_partial_range_is_206_with_content_range(
    client: httpx.AsyncClient, broker: Any
) -> None:
    broker.replies["RetrieveTemporalEntity"] = pb.ResourceResponse(
        document=pb.Document(body=b"{}", content_type="application/json"),
        content_range="date-time 2024-01-01T00:00:00Z-2024-01-01T01:00:00Z/*",
    )
    response = await client.get(f"{BASE}/temporal/entities/urn:x:1?lastN=10")
    assert response.status_code == 206
    assert response.headers["content-range"].startswith("date-time ")


async def test_temporal_create_is_201_when_new_and_204_when_existing(
    client: httpx.AsyncClient, broker: Any
) -> None:
    broker.replies["CreateTemporalEntity"] = pb.ResourceResponse(id="urn:x:1")
    response = await client.post(f"{BASE}/temporal/entities", content=b'{"id":"urn:x:1"}', headers=JSON)
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/temporal/entities/urn:x:1"
    broker.replies["CreateTemporalEntity"] = pb.ResourceResponse()
    response = await client.post(f"{BASE}/temporal/entities", content=b'{"id":"urn:x:1"}', headers=JSON)
    assert response.status_code == 204


async def test_temporal_instance_delete_carries_ids(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.delete(f"{BASE}/temporal/entities/urn:x:1/attrs/speed/urn:i:9")
    assert response.status_code == 204
    request = broker.last.request
    assert (request.id, request.attribute, request.instance_id) == ("urn:x:1", "speed", "urn:i:9")


async def test_update_and_delete_registration_are_204(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.patch(f"{BASE}/csourceRegistrations/urn:r:1", content=b'{"a":1}', headers=JSON)
    assert response.status_code == 204
    assert (broker.last.rpc, broker.last.request.id, broker.last.request.body) == (
        "UpdateRegistration",
        "urn:r:1",
        b'{"a":1}',
    )
    response = await client.delete(f"{BASE}/csourceRegistrations/urn:r:1")
    assert response.status_code == 204
    assert broker.last.rpc == "DeleteRegistration"


async def test_not_implemented_broker_answer_is_mapped(
    client: httpx.AsyncClient, broker: Any, make_rpc_error: Any
) -> None:
    import grpc
    from cityos_runtime.problems import ProblemError

    problem = ProblemError(
        "OperationNotSupported", "subscriptions arrive with the data-flows issue", status=501
    )
    broker.replies["CreateSubscription"] = make_rpc_error(grpc.StatusCode.UNIMPLEMENTED, "no", problem)
    response = await client.post(f"{BASE}/subscriptions", content=b"{}", headers=JSON)
    assert response.status_code == 501
    assert response.json()["detail"] == "subscriptions arrive with the data-flows issue"
