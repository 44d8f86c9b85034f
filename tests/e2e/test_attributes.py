"""Attribute append, update, partial update, replace and delete (ETSI GS CIM 009, 5.6.2-5.6.5, 6.6-6.7)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

SENSOR_A = "urn:ngsi-ld:Dataset:sensor-a"
SENSOR_B = "urn:ngsi-ld:Dataset:sensor-b"


@pytest.fixture
def gauge(tenant_client: httpx.Client) -> str:
    """Create a water-level gauge and return its id."""
    entity_id = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    entity = {
        "id": entity_id,
        "type": "WaterLevelGauge",
        "waterLevel": {
            "type": "Property",
            "value": 3.2,
            "unitCode": "MTR",
            "quality": {"type": "Property", "value": "good"},
        },
        "river": {"type": "Property", "value": "Toyohira"},
    }
    tenant_client.post("/entities", json=entity).raise_for_status()
    return entity_id


def instances(body: dict[str, Any], attr: str) -> list[dict[str, Any]]:
    """An attribute's instances in a normalized entity: one object, or an array of several."""
    value = body.get(attr, [])
    return value if isinstance(value, list) else [value]


def test_append_attributes_answers_204_and_adds_them(tenant_client: httpx.Client, gauge: str) -> None:
    fragment = {"alert": {"type": "Property", "value": "warning"}}
    assert tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).status_code == 204
    body = tenant_client.get(f"/entities/{gauge}").json()
    assert body["alert"] == {"type": "Property", "value": "warning"}
    assert body["waterLevel"]["value"] == 3.2


def test_append_overwrites_existing_attributes_by_default(tenant_client: httpx.Client, gauge: str) -> None:
    fragment = {"river": {"type": "Property", "value": "Ishikari"}}
    assert tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).status_code == 204
    assert tenant_client.get(f"/entities/{gauge}").json()["river"]["value"] == "Ishikari"


def test_append_no_overwrite_answers_207_listing_existing_as_not_updated(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {
        "river": {"type": "Property", "value": "Ishikari"},
        "alert": {"type": "Property", "value": "warning"},
    }
    response = tenant_client.post(
        f"/entities/{gauge}/attrs", params={"options": "noOverwrite"}, json=fragment
    )
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["alert"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["river"]
    assert all(item.get("reason") for item in result["notUpdated"])
    body = tenant_client.get(f"/entities/{gauge}").json()
    assert body["river"]["value"] == "Toyohira"
    assert body["alert"]["value"] == "warning"


def test_append_to_missing_entity_answers_404(
    tenant_client: httpx.Client, gauge: str, problem: Callable[..., dict[str, Any]]
) -> None:
    fragment = {"alert": {"type": "Property", "value": "warning"}}
    missing = f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}"
    problem(tenant_client.post(f"/entities/{missing}/attrs", json=fragment), 404, "ResourceNotFound")


def test_update_attributes_answers_204(tenant_client: httpx.Client, gauge: str) -> None:
    fragment = {"waterLevel": {"type": "Property", "value": 4.4, "unitCode": "MTR"}}
    assert tenant_client.patch(f"/entities/{gauge}/attrs", json=fragment).status_code == 204
    assert tenant_client.get(f"/entities/{gauge}").json()["waterLevel"]["value"] == 4.4


def test_update_attributes_answers_207_for_attributes_the_entity_lacks(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {
        "waterLevel": {"type": "Property", "value": 4.4},
        "alert": {"type": "Property", "value": "warning"},
    }
    response = tenant_client.patch(f"/entities/{gauge}/attrs", json=fragment)
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["waterLevel"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["alert"]
    body = tenant_client.get(f"/entities/{gauge}").json()
    assert body["waterLevel"]["value"] == 4.4
    assert "alert" not in body  # update never creates attributes


def test_partial_attribute_update_changes_only_the_given_members(
    tenant_client: httpx.Client, gauge: str
) -> None:
    response = tenant_client.patch(f"/entities/{gauge}/attrs/waterLevel", json={"value": 5.0})
    assert response.status_code == 204, response.text
    level = tenant_client.get(f"/entities/{gauge}").json()["waterLevel"]
    assert level["value"] == 5.0
    assert level["unitCode"] == "MTR"
    assert level["quality"]["value"] == "good"


def test_partial_update_of_missing_attribute_answers_404(
    tenant_client: httpx.Client, gauge: str, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.patch(f"/entities/{gauge}/attrs/alert", json={"value": "warning"})
    problem(response, 404, "ResourceNotFound")


def test_replace_attribute_answers_204_and_drops_members_not_given(
    tenant_client: httpx.Client, gauge: str
) -> None:
    response = tenant_client.put(
        f"/entities/{gauge}/attrs/waterLevel", json={"type": "Property", "value": 2.0}
    )
    assert response.status_code == 204, response.text
    assert tenant_client.get(f"/entities/{gauge}").json()["waterLevel"] == {"type": "Property", "value": 2.0}


def test_replace_missing_attribute_answers_404(
    tenant_client: httpx.Client, gauge: str, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.put(f"/entities/{gauge}/attrs/alert", json={"type": "Property", "value": "x"})
    problem(response, 404, "ResourceNotFound")


def test_delete_attribute_answers_204_then_404(
    tenant_client: httpx.Client, gauge: str, problem: Callable[..., dict[str, Any]]
) -> None:
    assert tenant_client.delete(f"/entities/{gauge}/attrs/river").status_code == 204
    assert "river" not in tenant_client.get(f"/entities/{gauge}").json()
    problem(tenant_client.delete(f"/entities/{gauge}/attrs/river"), 404, "ResourceNotFound")


def test_attribute_instances_are_kept_apart_by_dataset_id(tenant_client: httpx.Client, gauge: str) -> None:
    fragment = {
        "waterLevel": [
            {"type": "Property", "value": 3.3, "datasetId": SENSOR_A},
            {"type": "Property", "value": 3.4, "datasetId": SENSOR_B},
        ]
    }
    assert tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).status_code == 204
    levels = instances(tenant_client.get(f"/entities/{gauge}").json(), "waterLevel")
    by_dataset = {item.get("datasetId"): item["value"] for item in levels}
    assert by_dataset == {None: 3.2, SENSOR_A: 3.3, SENSOR_B: 3.4}


def test_delete_attribute_by_dataset_id_removes_only_that_instance(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {
        "waterLevel": [
            {"type": "Property", "value": 3.3, "datasetId": SENSOR_A},
            {"type": "Property", "value": 3.4, "datasetId": SENSOR_B},
        ]
    }
    tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).raise_for_status()
    response = tenant_client.delete(f"/entities/{gauge}/attrs/waterLevel", params={"datasetId": SENSOR_A})
    assert response.status_code == 204, response.text
    levels = instances(tenant_client.get(f"/entities/{gauge}").json(), "waterLevel")
    assert sorted(str(item.get("datasetId")) for item in levels) == ["None", SENSOR_B]


def test_delete_attribute_with_delete_all_removes_every_instance(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {"waterLevel": {"type": "Property", "value": 3.3, "datasetId": SENSOR_A}}
    tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).raise_for_status()
    response = tenant_client.delete(f"/entities/{gauge}/attrs/waterLevel", params={"deleteAll": "true"})
    assert response.status_code == 204, response.text
    assert "waterLevel" not in tenant_client.get(f"/entities/{gauge}").json()


def test_delete_attribute_without_dataset_id_keeps_other_instances(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {"waterLevel": {"type": "Property", "value": 3.3, "datasetId": SENSOR_A}}
    tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).raise_for_status()
    assert tenant_client.delete(f"/entities/{gauge}/attrs/waterLevel").status_code == 204
    levels = instances(tenant_client.get(f"/entities/{gauge}").json(), "waterLevel")
    assert [(item.get("datasetId"), item["value"]) for item in levels] == [(SENSOR_A, 3.3)]


def test_partial_update_with_dataset_id_changes_only_that_instance(
    tenant_client: httpx.Client, gauge: str
) -> None:
    fragment = {"waterLevel": {"type": "Property", "value": 3.3, "datasetId": SENSOR_A}}
    tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).raise_for_status()
    response = tenant_client.patch(
        f"/entities/{gauge}/attrs/waterLevel", json={"value": 9.9, "datasetId": SENSOR_A}
    )
    assert response.status_code == 204, response.text
    levels = instances(tenant_client.get(f"/entities/{gauge}").json(), "waterLevel")
    assert {item.get("datasetId"): item["value"] for item in levels} == {None: 3.2, SENSOR_A: 9.9}


def test_append_with_an_existing_dataset_id_replaces_that_instance(
    tenant_client: httpx.Client, gauge: str
) -> None:
    first = {"waterLevel": {"type": "Property", "value": 3.3, "datasetId": SENSOR_A}}
    tenant_client.post(f"/entities/{gauge}/attrs", json=first).raise_for_status()
    second = {"waterLevel": {"type": "Property", "value": 3.6, "datasetId": SENSOR_A}}
    assert tenant_client.post(f"/entities/{gauge}/attrs", json=second).status_code == 204
    levels = instances(tenant_client.get(f"/entities/{gauge}").json(), "waterLevel")
    assert {item.get("datasetId"): item["value"] for item in levels} == {None: 3.2, SENSOR_A: 3.6}


def test_delete_of_a_missing_dataset_id_answers_404(
    tenant_client: httpx.Client, gauge: str, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.delete(f"/entities/{gauge}/attrs/waterLevel", params={"datasetId": SENSOR_B})
    problem(response, 404, "ResourceNotFound")
    assert tenant_client.get(f"/entities/{gauge}").json()["waterLevel"]["value"] == 3.2


def test_concurrent_appends_of_different_attributes_are_all_kept(
    tenant_client: httpx.Client, gauge: str
) -> None:
    def append(n: int) -> int:
        fragment = {f"reading{n}": {"type": "Property", "value": n}}
        return tenant_client.post(f"/entities/{gauge}/attrs", json=fragment).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(append, range(24)))
    assert set(codes) == {204}
    body = tenant_client.get(f"/entities/{gauge}").json()
    assert {key: body[key]["value"] for key in body if key.startswith("reading")} == {
        f"reading{n}": n for n in range(24)
    }
