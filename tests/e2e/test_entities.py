"""Entity create, retrieve, delete, merge and replace (ETSI GS CIM 009, clauses 5.6.1-5.6.6, 6.4-6.5)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import pytest


@pytest.fixture
def problem(problem: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The ProblemDetails check, here also requiring a title."""
    return functools.partial(problem, titled=True)


def gauge(entity_id: str, level: float = 3.2) -> dict[str, Any]:
    """A small water-level gauge entity in normalized form."""
    return {
        "id": entity_id,
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": level, "unitCode": "MTR"},
        "river": {"type": "Property", "value": "Toyohira"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.3548, 43.0455]}},
    }


def new_id() -> str:
    return f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"


def test_create_entity_answers_201_with_location(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    response = tenant_client.post("/entities", json=gauge(entity_id))
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(f"/ngsi-ld/v1/entities/{entity_id}")


def test_create_existing_entity_answers_409_already_exists(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = new_id()
    assert tenant_client.post("/entities", json=gauge(entity_id)).status_code == 201
    problem(tenant_client.post("/entities", json=gauge(entity_id, 9.9)), 409, "AlreadyExists")
    assert tenant_client.get(f"/entities/{entity_id}").json()["waterLevel"]["value"] == 3.2


def test_retrieve_entity_returns_what_was_created(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    response = tenant_client.get(f"/entities/{entity_id}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["id"] == entity_id
    assert body["type"] == "WaterLevelGauge"
    assert body["waterLevel"] == {"type": "Property", "value": 3.2, "unitCode": "MTR"}
    assert body["river"] == {"type": "Property", "value": "Toyohira"}
    assert body["location"]["value"] == {"type": "Point", "coordinates": [141.3548, 43.0455]}


def test_retrieve_missing_entity_answers_404_resource_not_found(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    tenant_client.post("/entities", json=gauge(new_id())).raise_for_status()  # the tenant exists
    problem(tenant_client.get(f"/entities/{new_id()}"), 404, "ResourceNotFound")


def test_delete_entity_answers_204_and_then_it_is_gone(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    assert tenant_client.delete(f"/entities/{entity_id}").status_code == 204
    problem(tenant_client.get(f"/entities/{entity_id}"), 404, "ResourceNotFound")
    problem(tenant_client.delete(f"/entities/{entity_id}"), 404, "ResourceNotFound")


def test_merge_entity_updates_adds_and_keeps_other_attributes(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    patch = {
        "waterLevel": {"type": "Property", "value": 4.1},
        "alert": {"type": "Property", "value": "warning"},
    }
    assert tenant_client.patch(f"/entities/{entity_id}", json=patch).status_code == 204
    body = tenant_client.get(f"/entities/{entity_id}").json()
    assert body["waterLevel"]["value"] == 4.1
    assert body["waterLevel"]["unitCode"] == "MTR"  # merge keeps members the patch does not name
    assert body["alert"] == {"type": "Property", "value": "warning"}
    assert body["river"]["value"] == "Toyohira"


def test_merge_entity_with_ngsi_ld_null_deletes_the_attribute(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    patch = {"river": {"type": "Property", "value": "urn:ngsi-ld:null"}}
    assert tenant_client.patch(f"/entities/{entity_id}", json=patch).status_code == 204
    body = tenant_client.get(f"/entities/{entity_id}").json()
    assert "river" not in body
    assert body["waterLevel"]["value"] == 3.2


def test_merge_missing_entity_answers_404(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    tenant_client.post("/entities", json=gauge(new_id())).raise_for_status()
    patch = {"waterLevel": {"type": "Property", "value": 1.0}}
    problem(tenant_client.patch(f"/entities/{new_id()}", json=patch), 404, "ResourceNotFound")


def test_replace_entity_answers_204_and_drops_attributes_not_given(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    replacement = {"type": "WaterLevelGauge", "waterLevel": {"type": "Property", "value": 0.5}}
    assert tenant_client.put(f"/entities/{entity_id}", json=replacement).status_code == 204
    body = tenant_client.get(f"/entities/{entity_id}").json()
    assert body["waterLevel"] == {"type": "Property", "value": 0.5}
    assert "river" not in body
    assert "location" not in body


def test_replace_missing_entity_answers_404(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    tenant_client.post("/entities", json=gauge(new_id())).raise_for_status()
    replacement = {"type": "WaterLevelGauge", "waterLevel": {"type": "Property", "value": 0.5}}
    problem(tenant_client.put(f"/entities/{new_id()}", json=replacement), 404, "ResourceNotFound")


def test_create_entity_with_several_types_keeps_them_all(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    entity = gauge(entity_id) | {"type": ["WaterLevelGauge", "Device"]}
    tenant_client.post("/entities", json=entity).raise_for_status()
    assert sorted(tenant_client.get(f"/entities/{entity_id}").json()["type"]) == ["Device", "WaterLevelGauge"]


def test_create_with_two_instances_of_one_dataset_id_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = new_id()
    twice = {"type": "Property", "value": 1.0, "datasetId": "urn:ngsi-ld:Dataset:radar"}
    entity = gauge(entity_id) | {"waterLevel": [twice, twice | {"value": 2.0}]}
    problem(tenant_client.post("/entities", json=entity), 400, "BadRequestData")
    assert tenant_client.get(f"/entities/{entity_id}").status_code == 404


def test_replace_with_another_id_in_the_body_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    problem(tenant_client.put(f"/entities/{entity_id}", json=gauge(new_id(), 1.0)), 400, "BadRequestData")
    assert tenant_client.get(f"/entities/{entity_id}").json()["waterLevel"]["value"] == 3.2


def test_retrieve_with_attrs_returns_only_those_attributes(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    tenant_client.post("/entities", json=gauge(entity_id)).raise_for_status()
    response = tenant_client.get(f"/entities/{entity_id}", params={"attrs": "river,location"})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id", "type", "river", "location"}


def test_concurrent_creates_of_one_id_let_exactly_one_win(tenant_client: httpx.Client) -> None:
    entity_id = new_id()

    def create(level: int) -> int:
        return tenant_client.post("/entities", json=gauge(entity_id, float(level))).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(create, range(12)))
    assert codes == [201] + [409] * 11
    assert tenant_client.get(f"/entities/{entity_id}").status_code == 200


def test_merge_with_ngsi_ld_null_deletes_a_sub_property(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    entity = gauge(entity_id)
    entity["waterLevel"] |= {
        "quality": {"type": "Property", "value": "good"},
        "sensor": {"type": "Property", "value": "radar"},
    }
    tenant_client.post("/entities", json=entity).raise_for_status()
    patch = {
        "waterLevel": {
            "type": "Property",
            "value": 3.5,
            "quality": {"type": "Property", "value": "urn:ngsi-ld:null"},
        }
    }
    assert tenant_client.patch(f"/entities/{entity_id}", json=patch).status_code == 204
    level = tenant_client.get(f"/entities/{entity_id}").json()["waterLevel"]
    assert level["value"] == 3.5
    assert "quality" not in level
    assert level["sensor"]["value"] == "radar"
    assert level["unitCode"] == "MTR"


@pytest.mark.parametrize(
    "entity_id",
    ["https://example.org/sensors/a?x=1#frag", "urn:ngsi-ld:WaterLevelGauge:札幌-01"],
    ids=["http-uri", "unicode-urn"],
)
def test_any_uri_is_an_entity_id_when_percent_encoded_in_the_path(
    tenant_client: httpx.Client, entity_id: str
) -> None:
    created = tenant_client.post("/entities", json=gauge(entity_id))
    assert created.status_code == 201, created.text
    location = urljoin(str(tenant_client.base_url), created.headers["Location"])
    assert tenant_client.get(location).json()["id"] == entity_id

    path = f"/entities/{quote(entity_id, safe='')}"
    assert tenant_client.get(path).json()["id"] == entity_id
    assert tenant_client.patch(f"{path}/attrs/waterLevel", json={"value": 1.0}).status_code == 204
    assert tenant_client.delete(f"{path}/attrs/river").status_code == 204
    assert set(tenant_client.get(path).json()) == {"id", "type", "waterLevel", "location"}
    assert tenant_client.delete(path).status_code == 204
    assert tenant_client.get(path).status_code == 404
