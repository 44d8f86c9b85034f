"""Routing: templates, trailing slashes, percent-encoded ids, 404 / 405, health endpoints."""

from __future__ import annotations

from typing import Any

import httpx
from cityos.broker.v1 import broker_pb2 as pb
from cityos_gateway.app import create_app

BASE = "/ngsi-ld/v1"


async def test_collection_accepts_trailing_slash(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/?type=Room")
    assert response.status_code == 200
    assert broker.last.rpc == "QueryEntities"


async def test_item_path_with_trailing_slash_is_not_found(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1/")
    assert response.status_code == 404
    assert not broker.calls


async def test_percent_encoded_id_is_decoded_and_keeps_encoded_slash(
    client: httpx.AsyncClient, broker: Any
) -> None:
    response = await client.get(f"{BASE}/entities/urn:ngsi-ld:Room:a%2Fb%20c")
    assert response.status_code == 200
    assert broker.last.request.id == "urn:ngsi-ld:Room:a/b c"


async def test_attribute_path_parameters(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.delete(f"{BASE}/entities/urn:x:1/attrs/temp%C3%A9rature")
    assert response.status_code == 204
    assert (broker.last.request.id, broker.last.request.attribute) == ("urn:x:1", "température")


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert body["status"] == 404
    assert not broker.calls


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.put(
        f"{BASE}/entities", content=b"{}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    assert response.json()["status"] == 405
    assert not broker.calls


async def test_invalid_utf8_in_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:%FF")
    assert response.status_code == 400


async def test_every_operation_routes_to_its_rpc(client: httpx.AsyncClient, broker: Any) -> None:
    json = {"content-type": "application/json"}
    cases = [
        ("POST", "/entities", "CreateEntity"),
        ("GET", "/entities/urn:x:1", "RetrieveEntity"),
        ("DELETE", "/entities/urn:x:1", "DeleteEntity"),
        ("PATCH", "/entities/urn:x:1", "MergeEntity"),
        ("PUT", "/entities/urn:x:1", "ReplaceEntity"),
        ("POST", "/entities/urn:x:1/attrs", "AppendAttributes"),
        ("PATCH", "/entities/urn:x:1/attrs", "UpdateAttributes"),
        ("PATCH", "/entities/urn:x:1/attrs/a", "PartialUpdateAttribute"),
        ("PUT", "/entities/urn:x:1/attrs/a", "ReplaceAttribute"),
        ("DELETE", "/entities/urn:x:1/attrs/a", "DeleteAttribute"),
        ("POST", "/entityOperations/upsert", "Batch"),
        ("POST", "/entityOperations/query", "QueryEntities"),
        ("GET", "/types", "ListTypes"),
        ("GET", "/types/Room", "RetrieveType"),
        ("GET", "/attributes", "ListAttributes"),
        ("GET", "/attributes/temperature", "RetrieveAttribute"),
        ("GET", "/jsonldContexts", "ListContexts"),
        ("POST", "/jsonldContexts", "AddContext"),
        ("GET", "/jsonldContexts/abc", "ServeContext"),
        ("DELETE", "/jsonldContexts/abc", "DeleteContext"),
        ("POST", "/subscriptions", "CreateSubscription"),
        ("GET", "/subscriptions", "QuerySubscriptions"),
        ("GET", "/subscriptions/urn:s:1", "RetrieveSubscription"),
        ("PATCH", "/subscriptions/urn:s:1", "UpdateSubscription"),
        ("DELETE", "/subscriptions/urn:s:1", "DeleteSubscription"),
        ("POST", "/temporal/entities", "CreateTemporalEntity"),
        ("GET", "/temporal/entities", "QueryTemporalEntities"),
        ("POST", "/temporal/entityOperations/query", "QueryTemporalEntities"),
        ("GET", "/temporal/entities/urn:x:1", "RetrieveTemporalEntity"),
        ("DELETE", "/temporal/entities/urn:x:1", "DeleteTemporalEntity"),
        ("POST", "/temporal/entities/urn:x:1/attrs", "AppendTemporalAttributes"),
        ("DELETE", "/temporal/entities/urn:x:1/attrs/a", "DeleteTemporalAttribute"),
        ("DELETE", "/temporal/entities/urn:x:1/attrs/a/urn:i:1", "DeleteTemporalAttribute"),
        ("POST", "/csourceRegistrations", "CreateRegistration"),
        ("GET", "/csourceRegistrations", "QueryRegistrations"),
        ("GET", "/csourceRegistrations/urn:r:1", "RetrieveRegistration"),
        ("PATCH", "/csourceRegistrations/urn:r:1", "UpdateRegistration"),
        ("DELETE", "/csourceRegistrations/urn:r:1", "DeleteRegistration"),
    ]
    broker.replies["CreateEntity"] = pb.CreateEntityResponse(id="urn:x:1")
    broker.replies["AddContext"] = pb.ContextResponse(id="abc")
    broker.replies["CreateSubscription"] = pb.ResourceResponse(id="urn:s:1")
    broker.replies["CreateRegistration"] = pb.ResourceResponse(id="urn:r:1")
    for method, path, rpc in cases:
        body = b"[]" if "entityOperations" in path and "query" not in path else b"{}"
        content = body if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, BASE + path, content=content, headers=json)
        assert response.status_code < 300, (method, path, response.text)
        assert broker.last.rpc == rpc, (method, path)
    assert len(broker.calls) == len(cases)


async def test_healthz_is_always_ok(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert not broker.calls


async def test_readyz_follows_the_readiness_check(settings: Any, broker: Any) -> None:
    state = {"ready": False}

    async def readiness() -> bool:
        return state["ready"]

    app = create_app(settings, broker, readiness=readiness)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        assert (await http.get("/readyz")).status_code == 503
        state["ready"] = True
        assert (await http.get("/readyz")).status_code == 200
