"""Representations: normalized, concise, keyValues, sysAttrs, JSON-LD, GeoJSON, every attribute kind (4.5)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CITY = "urn:ngsi-ld:Organization:sapporo"
UPSTREAM = ["urn:ngsi-ld:WaterLevelGauge:upstream-1", "urn:ngsi-ld:WaterLevelGauge:upstream-2"]

# One attribute of every NGSI-LD kind, with observedAt, unitCode, datasetId and a sub-property.
EVERY_KIND: dict[str, Any] = {
    "type": "WaterLevelGauge",
    "waterLevel": {
        "type": "Property",
        "value": 3.2,
        "unitCode": "MTR",
        "observedAt": "2026-11-22T03:04:00.000Z",
        "datasetId": "urn:ngsi-ld:Dataset:radar",
        "quality": {"type": "Property", "value": "good"},
    },
    "managedBy": {
        "type": "Relationship",
        "object": CITY,
        "objectType": "Organization",
        "since": {"type": "Property", "value": "2019-04-01"},
        "contact": {"type": "Relationship", "object": "urn:ngsi-ld:Person:river-office"},
    },
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.3548, 43.0455]}},
    "name": {"type": "LanguageProperty", "languageMap": {"ja": "豊平川", "en": "Toyohira River"}},
    "category": {"type": "VocabProperty", "vocab": "river"},
    "readings": {"type": "ListProperty", "valueList": [3.1, 3.2, 3.3]},
    "upstream": {
        "type": "ListRelationship",
        "objectList": [{"object": UPSTREAM[0]}, {"object": UPSTREAM[1]}],
    },
    "calibration": {"type": "JsonProperty", "json": {"offset": 0.02, "table": {"low": [0, 1], "high": None}}},
}


@pytest.fixture
def gauge(tenant_client: httpx.Client) -> str:
    """Create a gauge carrying every attribute kind and return its id."""
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    response = tenant_client.post("/entities", json={"id": entity_id, **EVERY_KIND})
    assert response.status_code == 201, response.text
    return entity_id


def instants(document: Any) -> Any:
    """The document with every observedAt parsed, so equal instants compare equal however written."""
    if isinstance(document, dict):
        return {
            key: datetime.fromisoformat(value) if key == "observedAt" else instants(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [instants(item) for item in document]
    return document


@pytest.mark.parametrize("attribute", sorted(set(EVERY_KIND) - {"type"}))
def test_attribute_kind_round_trips_in_normalized_form(
    tenant_client: httpx.Client, gauge: str, attribute: str
) -> None:
    response = tenant_client.get(f"/entities/{gauge}")
    assert response.status_code == 200, response.text
    assert instants(response.json()[attribute]) == instants(EVERY_KIND[attribute])


def test_explicit_normalized_format_equals_the_default(tenant_client: httpx.Client, gauge: str) -> None:
    default = tenant_client.get(f"/entities/{gauge}").json()
    assert tenant_client.get(f"/entities/{gauge}", params={"format": "normalized"}).json() == default
    assert tenant_client.get(f"/entities/{gauge}", params={"options": "normalized"}).json() == default


@pytest.mark.parametrize(
    "params",
    [{"options": "keyValues"}, {"format": "keyValues"}, {"format": "simplified"}],
    ids=[
        "options",
        "format",
        "format-simplified",
    ],  # "simplified" is the spec's other name (annex C examples)
)
def test_key_values_gives_bare_values(
    tenant_client: httpx.Client, gauge: str, params: dict[str, str]
) -> None:
    response = tenant_client.get(f"/entities/{gauge}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == gauge
    assert body["type"] == "WaterLevelGauge"
    assert body["waterLevel"] == 3.2
    assert body["managedBy"] == CITY
    assert body["location"] == {"type": "Point", "coordinates": [141.3548, 43.0455]}


@pytest.mark.parametrize("params", [{"options": "concise"}, {"format": "concise"}], ids=["options", "format"])
def test_concise_drops_types_and_keeps_metadata(
    tenant_client: httpx.Client, gauge: str, params: dict[str, str]
) -> None:
    tenant_client.post(
        f"/entities/{gauge}/attrs", json={"river": {"type": "Property", "value": "Toyohira"}}
    ).raise_for_status()
    response = tenant_client.get(f"/entities/{gauge}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["river"] == "Toyohira"
    level = instants(body["waterLevel"])
    assert level == instants(
        {
            "value": 3.2,
            "unitCode": "MTR",
            "observedAt": "2026-11-22T03:04:00Z",
            "datasetId": "urn:ngsi-ld:Dataset:radar",
            "quality": "good",
        }
    )
    assert body["managedBy"] == {
        "object": CITY,
        "objectType": "Organization",
        "since": "2019-04-01",
        "contact": {"object": "urn:ngsi-ld:Person:river-office"},
    }


def test_concise_input_is_accepted_and_stored_normalized(tenant_client: httpx.Client) -> None:
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    concise = {
        "id": entity_id,
        "type": "WaterLevelGauge",
        "river": "Toyohira",
        "waterLevel": {"value": 3.2, "unitCode": "MTR"},
        "managedBy": {"object": CITY},
    }
    assert tenant_client.post("/entities", json=concise).status_code == 201
    body = tenant_client.get(f"/entities/{entity_id}").json()
    assert body["river"] == {"type": "Property", "value": "Toyohira"}
    assert body["waterLevel"] == {"type": "Property", "value": 3.2, "unitCode": "MTR"}
    assert body["managedBy"] == {"type": "Relationship", "object": CITY}


def test_sys_attrs_adds_created_and_modified_timestamps(tenant_client: httpx.Client, gauge: str) -> None:
    plain = tenant_client.get(f"/entities/{gauge}").json()
    assert "createdAt" not in plain
    assert "modifiedAt" not in plain
    assert "createdAt" not in plain["managedBy"]
    tenant_client.patch(f"/entities/{gauge}/attrs/readings", json={"valueList": [4.0]}).raise_for_status()
    body = tenant_client.get(f"/entities/{gauge}", params={"options": "sysAttrs"}).json()
    created, modified = (datetime.fromisoformat(body[key]) for key in ("createdAt", "modifiedAt"))
    assert created.tzinfo is not None
    assert modified > created
    readings = body["readings"]
    assert datetime.fromisoformat(readings["modifiedAt"]) > datetime.fromisoformat(readings["createdAt"])
    assert body["managedBy"]["createdAt"] == body["managedBy"]["modifiedAt"]


def test_accept_ld_json_puts_the_context_in_the_body(tenant_client: httpx.Client, gauge: str) -> None:
    response = tenant_client.get(f"/entities/{gauge}", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/ld+json")
    body = response.json()
    assert "@context" in body
    assert body["waterLevel"]["value"] == 3.2


def test_accept_json_sends_the_context_as_a_link_header(tenant_client: httpx.Client, gauge: str) -> None:
    response = tenant_client.get(f"/entities/{gauge}", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert "@context" not in response.json()
    link = response.headers["Link"]
    assert JSONLD_CONTEXT_REL in link
    assert link.lstrip().startswith("<http")


def test_ld_json_body_with_inline_context_expands_terms_with_it(tenant_client: httpx.Client) -> None:
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    entity = {
        "id": entity_id,
        "type": "WaterLevelGauge",
        "depth": {"type": "Property", "value": 7.5},
        "@context": [{"depth": "https://example.org/hydrology/depth"}, CORE_CONTEXT],
    }
    response = tenant_client.post("/entities", json=entity, headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 201, response.text
    body = tenant_client.get(f"/entities/{entity_id}").json()
    assert body["https://example.org/hydrology/depth"] == {"type": "Property", "value": 7.5}
    assert "depth" not in body


def test_geo_json_single_entity_is_a_feature(tenant_client: httpx.Client, gauge: str) -> None:
    response = tenant_client.get(f"/entities/{gauge}", headers={"Accept": "application/geo+json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/geo+json")
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == gauge
    assert feature["geometry"] == {"type": "Point", "coordinates": [141.3548, 43.0455]}
    assert feature["properties"]["type"] == "WaterLevelGauge"
    assert feature["properties"]["waterLevel"]["value"] == 3.2


def test_geo_json_query_is_a_feature_collection(tenant_client: httpx.Client, gauge: str) -> None:
    other = copy.deepcopy(EVERY_KIND) | {"id": f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"}
    tenant_client.post("/entities", json=other).raise_for_status()
    response = tenant_client.get(
        "/entities", params={"type": "WaterLevelGauge"}, headers={"Accept": "application/geo+json"}
    )
    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert {feature["id"] for feature in collection["features"]} == {gauge, other["id"]}
    assert all(feature["type"] == "Feature" for feature in collection["features"])


def test_geo_json_geometry_property_picks_another_geo_property(
    tenant_client: httpx.Client, gauge: str
) -> None:
    area = {
        "type": "Polygon",
        "coordinates": [[[141.35, 43.04], [141.36, 43.04], [141.36, 43.05], [141.35, 43.04]]],
    }
    tenant_client.post(
        f"/entities/{gauge}/attrs", json={"catchment": {"type": "GeoProperty", "value": area}}
    ).raise_for_status()
    response = tenant_client.get(
        f"/entities/{gauge}",
        params={"geometryProperty": "catchment"},
        headers={"Accept": "application/geo+json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["geometry"] == area


def test_geo_json_key_values_has_bare_properties(tenant_client: httpx.Client, gauge: str) -> None:
    response = tenant_client.get(
        f"/entities/{gauge}", params={"options": "keyValues"}, headers={"Accept": "application/geo+json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["properties"]["waterLevel"] == 3.2


def test_system_attributes_in_the_input_are_ignored(tenant_client: httpx.Client) -> None:
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    entity = {
        "id": entity_id,
        "type": "WaterLevelGauge",
        "createdAt": "1999-01-01T00:00:00Z",
        "waterLevel": {"type": "Property", "value": 1.0, "modifiedAt": "1999-01-01T00:00:00Z"},
    }
    assert tenant_client.post("/entities", json=entity).status_code == 201
    body = tenant_client.get(f"/entities/{entity_id}", params={"options": "sysAttrs"}).json()
    assert datetime.fromisoformat(body["createdAt"]).year > 1999
    assert datetime.fromisoformat(body["waterLevel"]["modifiedAt"]).year > 1999


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/ld+json;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, application/ld+json", "application/ld+json"),
        ("text/html, application/geo+json;q=0.9", "application/geo+json"),
    ],
    ids=["any", "any-application", "json-preferred", "ld-json-preferred", "geo-json-acceptable"],
)
def test_accept_header_negotiates_by_preference(
    tenant_client: httpx.Client, gauge: str, accept: str, media_type: str
) -> None:
    response = tenant_client.get(f"/entities/{gauge}", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0].strip() == media_type


def test_content_type_parameters_such_as_charset_are_accepted(tenant_client: httpx.Client) -> None:
    entity = {"id": f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}", "type": "WaterLevelGauge"}
    response = tenant_client.post(
        "/entities",
        content=json.dumps(entity).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


def test_format_takes_precedence_over_options(tenant_client: httpx.Client, gauge: str) -> None:
    response = tenant_client.get(
        f"/entities/{gauge}", params={"format": "normalized", "options": "keyValues"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["waterLevel"]["value"] == 3.2
