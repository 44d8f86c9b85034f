"""Tenancy by the NGSILD-Tenant header, and URL forms (ETSI GS CIM 009, 4.14, 6.3.14)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

TENANT = "NGSILD-Tenant"


def fresh_tenant() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def bin_entity(entity_id: str, fill: int) -> dict[str, Any]:
    return {"id": entity_id, "type": "WasteBin", "fillLevel": {"type": "Property", "value": fill}}


def new_id() -> str:
    return f"urn:ngsi-ld:WasteBin:{uuid.uuid4().hex[:10]}"


def test_same_entity_id_in_two_tenants_is_two_entities(client: httpx.Client) -> None:
    entity_id = new_id()
    sapporo, otaru = {TENANT: fresh_tenant()}, {TENANT: fresh_tenant()}
    assert client.post("/entities", json=bin_entity(entity_id, 10), headers=sapporo).status_code == 201
    assert client.post("/entities", json=bin_entity(entity_id, 90), headers=otaru).status_code == 201
    assert client.get(f"/entities/{entity_id}", headers=sapporo).json()["fillLevel"]["value"] == 10
    assert client.get(f"/entities/{entity_id}", headers=otaru).json()["fillLevel"]["value"] == 90

    assert client.delete(f"/entities/{entity_id}", headers=sapporo).status_code == 204
    assert client.get(f"/entities/{entity_id}", headers=sapporo).status_code == 404
    assert client.get(f"/entities/{entity_id}", headers=otaru).json()["fillLevel"]["value"] == 90


def test_queries_see_only_their_own_tenant(client: httpx.Client) -> None:
    sapporo, otaru = {TENANT: fresh_tenant()}, {TENANT: fresh_tenant()}
    in_sapporo, in_otaru = new_id(), new_id()
    client.post("/entities", json=bin_entity(in_sapporo, 10), headers=sapporo).raise_for_status()
    client.post("/entities", json=bin_entity(in_otaru, 90), headers=otaru).raise_for_status()
    response = client.get("/entities", params={"type": "WasteBin"}, headers=sapporo)
    assert [entity["id"] for entity in response.json()] == [in_sapporo]
    types = client.get("/types", headers=otaru).json()
    assert types["typeList"] == ["WasteBin"]


def test_requests_without_the_header_use_the_default_tenant(
    client: httpx.Client, tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = new_id()
    assert client.post("/entities", json=bin_entity(entity_id, 50)).status_code == 201
    try:
        assert client.get(f"/entities/{entity_id}").json()["fillLevel"]["value"] == 50
        tenant_client.post("/entities", json=bin_entity(new_id(), 1)).raise_for_status()
        problem(tenant_client.get(f"/entities/{entity_id}"), 404, "ResourceNotFound")
    finally:
        client.delete(f"/entities/{entity_id}")


@pytest.mark.parametrize("name", ["has space", "../escape", "semi;colon"], ids=["space", "dots", "semicolon"])
def test_invalid_tenant_name_answers_400(
    client: httpx.Client, name: str, problem: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/entities", json=bin_entity(new_id(), 1), headers={TENANT: name})
    problem(response, 400, "BadRequestData", "InvalidRequest")


def test_reading_a_never_written_tenant_answers_404_nonexistent_tenant(
    client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    never_written = {TENANT: fresh_tenant()}
    response = client.get("/entities", params={"type": "WasteBin"}, headers=never_written)
    problem(response, 404, "NonexistentTenant")
    problem(client.get(f"/entities/{new_id()}", headers=never_written), 404, "NonexistentTenant")


def test_first_write_creates_the_tenant(client: httpx.Client) -> None:
    tenant = {TENANT: fresh_tenant()}
    assert client.post("/entities", json=bin_entity(new_id(), 1), headers=tenant).status_code == 201
    response = client.get("/entities", params={"type": "WasteBin"}, headers=tenant)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1


def test_collection_endpoints_accept_a_trailing_slash(tenant_client: httpx.Client) -> None:
    entity_id = new_id()
    assert tenant_client.post("/entities/", json=bin_entity(entity_id, 5)).status_code == 201
    assert tenant_client.post("/entityOperations/create/", json=[bin_entity(new_id(), 6)]).status_code == 201
    plain = tenant_client.get("/entities", params={"type": "WasteBin"})
    slashed = tenant_client.get("/entities/", params={"type": "WasteBin"})
    assert slashed.status_code == 200, slashed.text
    assert slashed.json() == plain.json()
    assert (
        tenant_client.get("/types/").json()["typeList"]
        == tenant_client.get("/types").json()["typeList"]
        == ["WasteBin"]
    )


def test_tenant_names_are_case_insensitive(client: httpx.Client) -> None:
    # ARCHITECTURE.md section 4: tenant names are case-normalised; two spellings never split a city's data.
    name = fresh_tenant()
    entity_id = new_id()
    response = client.post("/entities", json=bin_entity(entity_id, 3), headers={TENANT: name.upper()})
    assert response.status_code == 201, response.text
    assert client.get(f"/entities/{entity_id}", headers={TENANT: name}).json()["fillLevel"]["value"] == 3
