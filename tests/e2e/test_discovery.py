"""Discovery: /types, /types/{type}, /attributes, /attributes/{attr} (GS CIM 009, 5.7.5-5.7.10)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT_CONTEXT = "https://uri.etsi.org/ngsi-ld/default-context/"

CITY_DATA: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:WaterLevelGauge:g1",
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": 1.5},
        "managedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Organization:sapporo"},
    },
    {
        "id": "urn:ngsi-ld:WaterLevelGauge:g2",
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": 2.5},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.35, 43.06]}},
    },
    {
        "id": "urn:ngsi-ld:SnowPlough:p1",
        "type": "SnowPlough",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.36, 43.07]}},
        "speed": {"type": "Property", "value": 20},
    },
]


@pytest.fixture
def city(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, with two gauges and a snow plough created."""
    response = tenant_client.post("/entityOperations/create", json=CITY_DATA)
    assert response.status_code == 201, response.text
    return tenant_client


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_types_lists_the_entity_types_present(city: httpx.Client) -> None:
    body = ok(city.get("/types"))
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:")
    assert sorted(body["typeList"]) == ["SnowPlough", "WaterLevelGauge"]


def test_types_with_details_lists_each_type_with_its_attributes(city: httpx.Client) -> None:
    body = ok(city.get("/types", params={"details": "true"}))
    by_name = {item["typeName"]: item for item in body}
    assert set(by_name) == {"SnowPlough", "WaterLevelGauge"}
    gauge = by_name["WaterLevelGauge"]
    assert gauge["type"] == "EntityType"
    assert gauge["id"] == DEFAULT_CONTEXT + "WaterLevelGauge"
    assert sorted(gauge["attributeNames"]) == ["location", "managedBy", "waterLevel"]


def test_type_info_counts_entities_and_describes_attributes(city: httpx.Client) -> None:
    body = ok(city.get("/types/WaterLevelGauge"))
    assert body["type"] == "EntityTypeInfo"
    assert body["typeName"] == "WaterLevelGauge"
    assert body["entityCount"] == 2
    details = {item["attributeName"]: item for item in body["attributeDetails"]}
    assert set(details) == {"location", "managedBy", "waterLevel"}
    assert details["waterLevel"]["type"] == "Attribute"
    assert details["waterLevel"]["attributeTypes"] == ["Property"]
    assert details["managedBy"]["attributeTypes"] == ["Relationship"]
    assert details["location"]["attributeTypes"] == ["GeoProperty"]


def test_type_info_of_an_absent_type_answers_404(city: httpx.Client) -> None:
    response = city.get("/types/Bicycle")
    assert response.status_code == 404, response.text
    assert response.json()["type"] == ERRORS + "ResourceNotFound"


def test_attributes_lists_the_attribute_names_present(city: httpx.Client) -> None:
    body = ok(city.get("/attributes"))
    assert body["type"] == "AttributeList"
    assert body["id"].startswith("urn:")
    assert sorted(body["attributeList"]) == ["location", "managedBy", "speed", "waterLevel"]


def test_attributes_with_details_gives_counts_kinds_and_types(city: httpx.Client) -> None:
    body = ok(city.get("/attributes", params={"details": "true"}))
    by_name = {item["attributeName"]: item for item in body}
    assert set(by_name) == {"location", "managedBy", "speed", "waterLevel"}
    location = by_name["location"]
    assert location["type"] == "Attribute"
    assert location["id"] == "https://uri.etsi.org/ngsi-ld/location"
    assert location["attributeTypes"] == ["GeoProperty"]
    assert sorted(location["typeNames"]) == ["SnowPlough", "WaterLevelGauge"]


def test_attribute_info_counts_entities_having_it(city: httpx.Client) -> None:
    body = ok(city.get("/attributes/waterLevel"))
    assert body["type"] == "Attribute"
    assert body["attributeName"] == "waterLevel"
    assert body["attributeCount"] == 2
    assert body["attributeTypes"] == ["Property"]
    assert body["typeNames"] == ["WaterLevelGauge"]


def test_attribute_info_of_an_absent_attribute_answers_404(city: httpx.Client) -> None:
    response = city.get("/attributes/rainfall")
    assert response.status_code == 404, response.text
    assert response.json()["type"] == ERRORS + "ResourceNotFound"


def test_discovery_follows_deletions(city: httpx.Client) -> None:
    city.delete("/entities/urn:ngsi-ld:SnowPlough:p1").raise_for_status()
    assert ok(city.get("/types"))["typeList"] == ["WaterLevelGauge"]
    assert "speed" not in ok(city.get("/attributes"))["attributeList"]


def test_type_and_attribute_can_be_named_by_full_iri(city: httpx.Client) -> None:
    gauge = ok(city.get("/types/" + quote(DEFAULT_CONTEXT + "WaterLevelGauge", safe="")))
    assert (gauge["typeName"], gauge["entityCount"]) == ("WaterLevelGauge", 2)
    speed = ok(city.get("/attributes/" + quote(DEFAULT_CONTEXT + "speed", safe="")))
    assert (speed["attributeName"], speed["attributeCount"]) == ("speed", 1)
