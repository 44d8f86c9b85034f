"""Batch entity create, upsert, update, delete and merge (ETSI GS CIM 009, 5.6.7-5.6.10, 6.14-6.31)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def plough(entity_id: str, speed: float = 20.0, **extra: Any) -> dict[str, Any]:
    """A snow plough entity in normalized form."""
    return {
        "id": entity_id,
        "type": "SnowPlough",
        "speed": {"type": "Property", "value": speed},
        "depot": {"type": "Property", "value": "Kita"},
        **extra,
    }


def ids(count: int) -> list[str]:
    return [f"urn:ngsi-ld:SnowPlough:{uuid.uuid4().hex[:10]}" for _ in range(count)]


def get(tenant_client: httpx.Client, entity_id: str) -> dict[str, Any]:
    response = tenant_client.get(f"/entities/{entity_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_kinds(result: dict[str, Any]) -> dict[str, str]:
    """Entity id -> NGSI-LD error type URI, from a BatchOperationResult."""
    return {item["entityId"]: item["error"]["type"] for item in result["errors"]}


def test_batch_create_answers_201_with_the_created_ids(tenant_client: httpx.Client) -> None:
    new = ids(3)
    response = tenant_client.post("/entityOperations/create", json=[plough(i) for i in new])
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == sorted(new)
    assert all(get(tenant_client, i)["speed"]["value"] == 20.0 for i in new)


def test_batch_create_with_one_bad_entity_answers_207_and_writes_the_others(
    tenant_client: httpx.Client,
) -> None:
    existing, fresh, broken = ids(3)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    no_value = plough(broken) | {"speed": {"type": "Property"}}  # a Property needs a value
    entities = [plough(existing), plough(fresh), no_value]
    response = tenant_client.post("/entityOperations/create", json=entities)
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [fresh]
    assert error_kinds(result) == {existing: ERRORS + "AlreadyExists", broken: ERRORS + "BadRequestData"}
    assert all(item["error"]["status"] in (400, 409) for item in result["errors"])
    get(tenant_client, fresh)
    assert tenant_client.get(f"/entities/{broken}").status_code == 404


def test_batch_upsert_of_new_entities_answers_201_with_their_ids(tenant_client: httpx.Client) -> None:
    new = ids(2)
    response = tenant_client.post("/entityOperations/upsert", json=[plough(i) for i in new])
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == sorted(new)


def test_batch_upsert_of_new_and_existing_answers_201_with_only_the_created_ids(
    tenant_client: httpx.Client,
) -> None:
    existing, fresh = ids(2)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    response = tenant_client.post(
        "/entityOperations/upsert", json=[plough(existing, 30.0), plough(fresh, 31.0)]
    )
    assert response.status_code == 201, response.text
    assert response.json() == [fresh]
    assert get(tenant_client, existing)["speed"]["value"] == 30.0
    assert get(tenant_client, fresh)["speed"]["value"] == 31.0


def test_batch_upsert_replaces_existing_entities_by_default(tenant_client: httpx.Client) -> None:
    (existing,) = ids(1)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    replacement = {"id": existing, "type": "SnowPlough", "speed": {"type": "Property", "value": 5.0}}
    response = tenant_client.post("/entityOperations/upsert", json=[replacement])
    assert response.status_code == 204, response.text
    body = get(tenant_client, existing)
    assert body["speed"]["value"] == 5.0
    assert "depot" not in body


def test_batch_upsert_with_update_option_keeps_attributes_not_given(tenant_client: httpx.Client) -> None:
    (existing,) = ids(1)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    change = {"id": existing, "type": "SnowPlough", "speed": {"type": "Property", "value": 5.0}}
    response = tenant_client.post("/entityOperations/upsert", params={"options": "update"}, json=[change])
    assert response.status_code == 204, response.text
    body = get(tenant_client, existing)
    assert body["speed"]["value"] == 5.0
    assert body["depot"]["value"] == "Kita"


def test_batch_update_answers_204_and_updates_attributes(tenant_client: httpx.Client) -> None:
    targets = ids(2)
    tenant_client.post("/entityOperations/create", json=[plough(i) for i in targets]).raise_for_status()
    changes = [{"id": i, "type": "SnowPlough", "speed": {"type": "Property", "value": 42.0}} for i in targets]
    response = tenant_client.post("/entityOperations/update", json=changes)
    assert response.status_code == 204, response.text
    for entity_id in targets:
        body = get(tenant_client, entity_id)
        assert body["speed"]["value"] == 42.0
        assert body["depot"]["value"] == "Kita"


def test_batch_update_with_no_overwrite_keeps_existing_values(tenant_client: httpx.Client) -> None:
    (target,) = ids(1)
    tenant_client.post("/entities", json=plough(target)).raise_for_status()
    change = {
        "id": target,
        "type": "SnowPlough",
        "speed": {"type": "Property", "value": 99.0},
        "driver": {"type": "Property", "value": "Sato"},
    }
    response = tenant_client.post(
        "/entityOperations/update", params={"options": "noOverwrite"}, json=[change]
    )
    # The spec reports batch results per entity; whether a kept attribute counts as an entity error is
    # left open, so only the effect is pinned down here.
    assert response.status_code in (204, 207), response.text
    body = get(tenant_client, target)
    assert body["speed"]["value"] == 20.0
    assert body["driver"]["value"] == "Sato"


def test_batch_update_of_a_missing_entity_answers_207_with_its_error(tenant_client: httpx.Client) -> None:
    existing, missing = ids(2)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    changes = [
        {"id": existing, "type": "SnowPlough", "speed": {"type": "Property", "value": 42.0}},
        {"id": missing, "type": "SnowPlough", "speed": {"type": "Property", "value": 43.0}},
    ]
    response = tenant_client.post("/entityOperations/update", json=changes)
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [existing]
    assert error_kinds(result) == {missing: ERRORS + "ResourceNotFound"}
    assert get(tenant_client, existing)["speed"]["value"] == 42.0
    assert tenant_client.get(f"/entities/{missing}").status_code == 404


def test_batch_delete_answers_204_and_removes_the_entities(tenant_client: httpx.Client) -> None:
    targets = ids(3)
    tenant_client.post("/entityOperations/create", json=[plough(i) for i in targets]).raise_for_status()
    response = tenant_client.post("/entityOperations/delete", json=targets[:2])
    assert response.status_code == 204, response.text
    assert [tenant_client.get(f"/entities/{i}").status_code for i in targets] == [404, 404, 200]


def test_batch_delete_with_a_missing_id_answers_207_and_deletes_the_others(
    tenant_client: httpx.Client,
) -> None:
    existing, missing = ids(2)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    response = tenant_client.post("/entityOperations/delete", json=[existing, missing])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [existing]
    assert error_kinds(result) == {missing: ERRORS + "ResourceNotFound"}
    assert tenant_client.get(f"/entities/{existing}").status_code == 404


def test_batch_merge_answers_204_and_merges_each_entity(tenant_client: httpx.Client) -> None:
    targets = ids(2)
    tenant_client.post("/entityOperations/create", json=[plough(i) for i in targets]).raise_for_status()
    merges = [
        {"id": targets[0], "type": "SnowPlough", "speed": {"type": "Property", "value": 7.0}},
        {"id": targets[1], "type": "SnowPlough", "depot": {"type": "Property", "value": "urn:ngsi-ld:null"}},
    ]
    response = tenant_client.post("/entityOperations/merge", json=merges)
    assert response.status_code == 204, response.text
    first, second = get(tenant_client, targets[0]), get(tenant_client, targets[1])
    assert (first["speed"]["value"], first["depot"]["value"]) == (7.0, "Kita")
    assert second["speed"]["value"] == 20.0
    assert "depot" not in second


def test_batch_merge_of_a_missing_entity_answers_207_with_its_error(tenant_client: httpx.Client) -> None:
    existing, missing = ids(2)
    tenant_client.post("/entities", json=plough(existing)).raise_for_status()
    merges = [
        {"id": existing, "type": "SnowPlough", "speed": {"type": "Property", "value": 7.0}},
        {"id": missing, "type": "SnowPlough", "speed": {"type": "Property", "value": 8.0}},
    ]
    response = tenant_client.post("/entityOperations/merge", json=merges)
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [existing]
    assert error_kinds(result) == {missing: ERRORS + "ResourceNotFound"}
    assert get(tenant_client, existing)["speed"]["value"] == 7.0


def test_batch_upsert_with_one_bad_entity_answers_207_and_writes_the_others(
    tenant_client: httpx.Client,
) -> None:
    (good,) = ids(1)
    response = tenant_client.post("/entityOperations/upsert", json=[plough(good), plough("not a uri")])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [good]
    assert error_kinds(result) == {"not a uri": ERRORS + "BadRequestData"}
    get(tenant_client, good)


def test_batch_create_with_one_id_twice_creates_it_once(tenant_client: httpx.Client) -> None:
    (twice,) = ids(1)
    response = tenant_client.post("/entityOperations/create", json=[plough(twice, 1.0), plough(twice, 2.0)])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == [twice]
    assert error_kinds(result) == {twice: ERRORS + "AlreadyExists"}
    assert get(tenant_client, twice)["speed"]["value"] == 1.0


def test_batch_in_json_ld_expands_each_entity_with_its_own_context(tenant_client: httpx.Client) -> None:
    first, second = ids(2)
    entities = [
        {"id": first, "type": "Plough", "@context": [{"Plough": "https://example.org/winter/Plough"}]},
        {"id": second, "type": "Plough", "@context": [{"Plough": "https://example.org/roads/Plough"}]},
    ]
    response = tenant_client.post(
        "/entityOperations/create", json=entities, headers={"Content-Type": "application/ld+json"}
    )
    assert response.status_code == 201, response.text
    assert get(tenant_client, first)["type"] == "https://example.org/winter/Plough"
    assert get(tenant_client, second)["type"] == "https://example.org/roads/Plough"
