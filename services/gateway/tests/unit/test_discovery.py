"""Type, attribute and @context routes."""

from __future__ import annotations

from typing import Any

import httpx
from cityos.broker.v1 import broker_pb2 as pb

BASE = "/ngsi-ld/v1"


async def test_types_with_details(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["ListTypes"] = pb.Document(body=b"[]", content_type="application/json")
    response = await client.get(f"{BASE}/types?details=true")
    assert response.status_code == 200
    assert broker.last.request.details
    await client.get(f"{BASE}/types/Room")
    assert (broker.last.rpc, broker.last.request.name) == ("RetrieveType", "Room")


async def test_attributes_and_attribute(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/attributes")
    assert (broker.last.rpc, broker.last.request.details) == ("ListAttributes", False)
    await client.get(f"{BASE}/attributes/https%3A%2F%2Fexample.org%2Ftemp?details=true")
    assert (broker.last.rpc, broker.last.request.name) == ("RetrieveAttribute", "https://example.org/temp")


async def test_geojson_is_406_on_discovery(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/types", headers={"accept": "application/geo+json"})
    assert response.status_code == 406
    assert not broker.calls


async def test_list_contexts_details_and_kind(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/jsonldContexts?details=true&kind=Cached")
    assert response.status_code == 200
    assert (broker.last.request.details, broker.last.request.kind) == (True, "cached")
    response = await client.get(f"{BASE}/jsonldContexts?kind=remote")
    assert response.status_code == 400


async def test_add_context_is_201_with_location(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["AddContext"] = pb.ContextResponse(id="ctx-1")
    body = b'{"@context": {"a": "https://example.org/a"}}'
    response = await client.post(
        f"{BASE}/jsonldContexts", content=body, headers={"content-type": "application/ld+json"}
    )
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/jsonldContexts/ctx-1"
    assert broker.last.request.context == body


async def test_serve_and_delete_context(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["ServeContext"] = pb.ContextResponse(
        document=pb.Document(body=b'{"@context":{}}', content_type="application/ld+json")
    )
    response = await client.get(f"{BASE}/jsonldContexts/ctx-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.content == b'{"@context":{}}'
    response = await client.delete(f"{BASE}/jsonldContexts/ctx-1?reload=true")
    assert response.status_code == 204
    assert (broker.last.request.id, broker.last.request.reload) == ("ctx-1", True)
