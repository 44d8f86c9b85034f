"""Tenancy by the NGSILD-Tenant header, and URL forms (ETSI GS CIM 009, 4.14, 6.3.14)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
TENANT = "NGSILD-Tenant"


def fresh_tenant() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(client: httpx.Client) -> Iterator[httpx.Client]:
    """An HTTP client bound to a tenant of its own, so no other test sees its data."""
    with httpx.Client(base_url=client.base_url, headers={TENANT: fresh_tenant()}, timeout=15.0) as own:
        yield own


def bin_entity(entity_id: str, fill: int) -> dict[str, Any]:
    return {"id": entity_id, "type": "WasteBin", "fillLevel": {"type": "Property", "value": fill}}


def new_id() -> str:
    return f"urn:ngsi-ld:WasteBin:{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, *kinds: str) -> None:
    """The response is a ProblemDetails of one of the NGSI-LD error kinds, with that status."""
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["type"] in {ERRORS + kind for kind in kinds}, problem
    assert problem["status"] == status, problem


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


def test_requests_without_the_header_use_the_default_tenant(client: httpx.Client, api: httpx.Client) -> None:
    entity_id = new_id()
    assert client.post("/entities", json=bin_entity(entity_id, 50)).status_code == 201
    try:
        assert client.get(f"/entities/{entity_id}").json()["fillLevel"]["value"] == 50
        api.post("/entities", json=bin_entity(new_id(), 1)).raise_for_status()
        assert_problem(api.get(f"/entities/{entity_id}"), 404, "ResourceNotFound")
    finally:
        client.delete(f"/entities/{entity_id}")


@pytest.mark.parametrize("name", ["has space", "../escape", "semi;colon"], ids=["space", "dots", "semicolon"])
def test_invalid_tenant_name_answers_400(client: httpx.Client, name: str) -> None:
    response = client.post("/entities", json=bin_entity(new_id(), 1), headers={TENANT: name})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_reading_a_never_written_tenant_answers_404_nonexistent_tenant(client: httpx.Client) -> None:
    never_written = {TENANT: fresh_tenant()}
    response = client.get("/entities", params={"type": "WasteBin"}, headers=never_written)
    assert_problem(response, 404, "NonexistentTenant")
    assert_problem(client.get(f"/entities/{new_id()}", headers=never_written), 404, "NonexistentTenant")


def test_first_write_creates_the_tenant(client: httpx.Client) -> None:
    tenant = {TENANT: fresh_tenant()}
    assert client.post("/entities", json=bin_entity(new_id(), 1), headers=tenant).status_code == 201
    response = client.get("/entities", params={"type": "WasteBin"}, headers=tenant)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1


def test_collection_endpoints_accept_a_trailing_slash(api: httpx.Client) -> None:
    entity_id = new_id()
    assert api.post("/entities/", json=bin_entity(entity_id, 5)).status_code == 201
    assert api.post("/entityOperations/create/", json=[bin_entity(new_id(), 6)]).status_code == 201
    plain = api.get("/entities", params={"type": "WasteBin"})
    slashed = api.get("/entities/", params={"type": "WasteBin"})
    assert slashed.status_code == 200, slashed.text
    assert slashed.json() == plain.json()
    assert api.get("/types/").json()["typeList"] == api.get("/types").json()["typeList"] == ["WasteBin"]


def test_tenant_names_are_case_insensitive(client: httpx.Client) -> None:
    # ARCHITECTURE.md section 4: tenant names are case-normalised; two spellings never split a city's data.
    name = fresh_tenant()
    entity_id = new_id()
    response = client.post("/entities", json=bin_entity(entity_id, 3), headers={TENANT: name.upper()})
    assert response.status_code == 201, response.text
    assert client.get(f"/entities/{entity_id}", headers={TENANT: name}).json()["fillLevel"]["value"] == 3
