"""Entity and attribute operations: parameter mapping and status codes."""

from __future__ import annotations

from typing import Any

import httpx
from cityos.broker.v1 import broker_pb2 as pb

BASE = "/ngsi-ld/v1"
JSON = {"content-type": "application/json"}
CTX = "https://example.org/ctx.jsonld"


async def test_create_passes_bytes_and_answers_201_with_location(
    client: httpx.AsyncClient, broker: Any
) -> None:
    broker.replies["CreateEntity"] = pb.CreateEntityResponse(id="urn:ngsi-ld:Room:a/b")
    body = b'{"id": "urn:ngsi-ld:Room:a/b", "type": "Room"}'
    response = await client.post(f"{BASE}/entities", content=body, headers=JSON)
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/entities/urn:ngsi-ld:Room:a%2Fb"
    assert response.content == b""
    assert broker.last.request.entity == body
    assert broker.last.request.ld.content_type == "application/json"


async def test_query_maps_every_parameter(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["QueryEntities"] = pb.QueryEntitiesResponse(
        document=pb.Document(body=b"[]", content_type="application/json"), count=42
    )
    params = {
        "type": "Room,Office",
        "id": "urn:a,urn:b",
        "idPattern": "urn:.*",
        "attrs": "temperature,name",
        "pick": "id,temperature",
        "omit": "name",
        "q": 'temperature>20;name=="x&y"',
        "scopeQ": "/Madrid/#",
        "georel": "near;maxDistance==2000",
        "geometry": "Point",
        "coordinates": "[8,40]",
        "geoproperty": "position",
        "geometryProperty": "position",
        "csf": "p==1",
        "lang": "ja",
        "limit": "5",
        "offset": "10",
        "count": "true",
        "options": "sysAttrs,concise",
        "datasetId": "urn:ds:1",
    }
    response = await client.get(
        f"{BASE}/entities",
        params=params,
        headers={"link": f'<{CTX}>; rel="http://www.w3.org/ns/json-ld#context"'},
    )
    assert response.status_code == 200
    assert response.headers["ngsild-results-count"] == "42"
    request = broker.last.request
    query = request.query
    assert list(query.ids) == ["urn:a", "urn:b"]
    assert (query.id_pattern, query.type, query.q, query.scope_q, query.csf) == (
        "urn:.*",
        "Room,Office",
        'temperature>20;name=="x&y"',
        "/Madrid/#",
        "p==1",
    )
    assert list(query.attrs) == ["temperature", "name"]
    assert (query.geo.georel, query.geo.geometry, query.geo.coordinates, query.geo.geoproperty) == (
        "near;maxDistance==2000",
        "Point",
        "[8,40]",
        "position",
    )
    render = request.render
    assert render.format == pb.FORMAT_CONCISE
    assert render.sys_attrs
    assert render.media_type == pb.MEDIA_TYPE_JSON
    assert render.link_context == CTX
    assert (list(render.attrs), list(render.pick), list(render.omit)) == (
        ["temperature", "name"],
        ["id", "temperature"],
        ["name"],
    )
    assert (render.lang, render.geometry_property, render.dataset_id) == ("ja", "position", "urn:ds:1")
    assert request.ld.link_context == CTX
    assert (request.limit, request.offset, request.count, request.limit_set) == (5, 10, True, True)


async def test_local_true_is_passed_to_the_broker(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/entities?local=true")
    assert broker.last.request.query.local
    await client.get(f"{BASE}/entities?type=Room")
    assert not broker.last.request.query.local


async def test_query_without_limit_leaves_limit_unset(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/entities?type=Room")
    request = broker.last.request
    assert (request.limit, request.limit_set, request.count) == (0, False, False)
    assert not request.query.HasField("geo")


async def test_limit_zero_with_count_is_passed(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/entities?type=Room&limit=0&count=true")
    assert (broker.last.request.limit, broker.last.request.limit_set) == (0, True)


async def test_negative_or_malformed_limit_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    for query in ("limit=-1", "offset=abc", "limit=1.5", "count=yes"):
        response = await client.get(f"{BASE}/entities?type=Room&{query}")
        assert response.status_code == 400, query
        assert response.json()["type"].endswith("/BadRequestData")
    assert not broker.calls


async def test_unknown_format_or_option_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    for query in ("format=compact", "options=fast", "options=keyValues,concise"):
        response = await client.get(f"{BASE}/entities?type=Room&{query}")
        assert response.status_code == 400, query
    assert not broker.calls


async def test_simplified_is_the_other_name_of_key_values(client: httpx.AsyncClient, broker: Any) -> None:
    for query in ("format=simplified", "options=simplified", "options=simplified,keyValues"):
        await client.get(f"{BASE}/entities/urn:x:1?{query}")
        assert broker.last.request.render.format == pb.FORMAT_KEY_VALUES, query


async def test_format_takes_precedence_over_options(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/entities/urn:x:1?format=keyValues&options=normalized,sysAttrs")
    assert broker.last.request.render.format == pb.FORMAT_KEY_VALUES
    assert broker.last.request.render.sys_attrs


async def test_repeated_list_parameter_is_joined_and_scalar_repeat_is_400(
    client: httpx.AsyncClient, broker: Any
) -> None:
    await client.get(f"{BASE}/entities?type=Room&attrs=a&attrs=b")
    assert list(broker.last.request.render.attrs) == ["a", "b"]
    response = await client.get(f"{BASE}/entities?type=Room&type=Office")
    assert response.status_code == 400


async def test_retrieve_renders_document_with_type_restriction(
    client: httpx.AsyncClient, broker: Any
) -> None:
    broker.replies["RetrieveEntity"] = pb.Document(
        body=b'{"id":"urn:x:1"}', content_type="application/ld+json"
    )
    response = await client.get(
        f"{BASE}/entities/urn:x:1?type=Room&options=keyValues", headers={"accept": "application/ld+json"}
    )
    assert response.status_code == 200
    assert response.content == b'{"id":"urn:x:1"}'
    assert response.headers["content-type"] == "application/ld+json"
    assert "link" not in response.headers
    request = broker.last.request
    assert (request.id, request.type) == ("urn:x:1", "Room")
    assert request.render.format == pb.FORMAT_KEY_VALUES
    assert request.render.media_type == pb.MEDIA_TYPE_JSON_LD


async def test_retrieve_as_geojson(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["RetrieveEntity"] = pb.Document(body=b"{}", content_type="application/geo+json")
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"accept": "application/geo+json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert broker.last.request.render.media_type == pb.MEDIA_TYPE_GEO_JSON


async def test_delete_entity_is_204_with_type(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.delete(f"{BASE}/entities/urn:x:1?type=Room")
    assert response.status_code == 204
    assert (broker.last.request.id, broker.last.request.type) == ("urn:x:1", "Room")


async def test_merge_accepts_merge_patch_json(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.patch(
        f"{BASE}/entities/urn:x:1",
        content=b'{"a": 1}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 204
    assert broker.last.rpc == "MergeEntity"
    assert broker.last.request.fragment == b'{"a": 1}'
    assert broker.last.request.ld.content_type == "application/merge-patch+json"


async def test_merge_patch_json_is_415_elsewhere(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.put(
        f"{BASE}/entities/urn:x:1",
        content=b'{"a": 1}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 415
    assert not broker.calls


async def test_replace_entity_is_204(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.put(f"{BASE}/entities/urn:x:1", content=b'{"type":"Room"}', headers=JSON)
    assert response.status_code == 204
    assert broker.last.rpc == "ReplaceEntity"
    assert broker.last.request.id == "urn:x:1"


async def test_append_204_and_no_overwrite(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(
        f"{BASE}/entities/urn:x:1/attrs?options=noOverwrite", content=b'{"a":1}', headers=JSON
    )
    assert response.status_code == 204
    assert broker.last.request.no_overwrite
    await client.post(f"{BASE}/entities/urn:x:1/attrs", content=b'{"a":1}', headers=JSON)
    assert not broker.last.request.no_overwrite


async def test_append_partial_is_207_update_result(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["AppendAttributes"] = pb.AttributesResponse(
        updated=["a"], not_updated=[pb.NotUpdatedDetails(attribute_name="b", reason="exists")]
    )
    response = await client.post(f"{BASE}/entities/urn:x:1/attrs", content=b'{"a":1,"b":2}', headers=JSON)
    assert response.status_code == 207
    assert response.json() == {"updated": ["a"], "notUpdated": [{"attributeName": "b", "reason": "exists"}]}


async def test_update_attributes_204_and_207(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.patch(f"{BASE}/entities/urn:x:1/attrs", content=b'{"a":1}', headers=JSON)
    assert response.status_code == 204
    broker.replies["UpdateAttributes"] = pb.AttributesResponse(
        not_updated=[pb.NotUpdatedDetails(attribute_name="a", reason="missing")]
    )
    response = await client.patch(f"{BASE}/entities/urn:x:1/attrs", content=b'{"a":1}', headers=JSON)
    assert response.status_code == 207
    assert response.json()["notUpdated"][0]["attributeName"] == "a"


async def test_partial_and_replace_attribute(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.patch(f"{BASE}/entities/urn:x:1/attrs/a", content=b'{"value":1}', headers=JSON)
    assert response.status_code == 204
    assert (broker.last.rpc, broker.last.request.attribute, broker.last.request.fragment) == (
        "PartialUpdateAttribute",
        "a",
        b'{"value":1}',
    )
    response = await client.put(f"{BASE}/entities/urn:x:1/attrs/a", content=b'{"value":2}', headers=JSON)
    assert response.status_code == 204
    assert broker.last.rpc == "ReplaceAttribute"


async def test_delete_attribute_with_dataset_and_delete_all(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.delete(f"{BASE}/entities/urn:x:1/attrs/a?datasetId=urn:ds:1&deleteAll=true")
    assert response.status_code == 204
    request = broker.last.request
    assert (request.dataset_id, request.delete_all) == ("urn:ds:1", True)
