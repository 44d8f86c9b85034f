"""Paging and counting: limit, offset, count and NGSILD-Results-Count (ETSI GS CIM 009, 6.3.10, 6.3.13)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

METER = "urn:ngsi-ld:Meter:"


def meters(count: int) -> list[dict[str, Any]]:
    """Water meters numbered 0..count-1; the even ones carry even=true."""
    return [
        {"id": f"{METER}{n:03d}", "type": "Meter", "even": {"type": "Property", "value": n % 2 == 0}}
        for n in range(count)
    ]


@pytest.fixture
def twelve(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, with twelve meters created."""
    response = tenant_client.post("/entityOperations/create", json=meters(12))
    assert response.status_code == 201, response.text
    return tenant_client


def test_count_reports_the_total_in_the_results_count_header(twelve: httpx.Client) -> None:
    response = twelve.get("/entities", params={"type": "Meter", "count": "true", "limit": "5"})
    assert response.status_code == 200, response.text
    assert response.headers["NGSILD-Results-Count"] == "12"
    assert len(response.json()) == 5


def test_limit_zero_with_count_returns_only_the_count(twelve: httpx.Client) -> None:
    response = twelve.get("/entities", params={"type": "Meter", "count": "true", "limit": "0"})
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "12"


def test_results_count_header_is_absent_without_count(twelve: httpx.Client) -> None:
    response = twelve.get("/entities", params={"type": "Meter"})
    assert response.status_code == 200, response.text
    assert "NGSILD-Results-Count" not in response.headers


def test_paging_with_limit_and_offset_neither_duplicates_nor_skips(tenant_client: httpx.Client) -> None:
    created = meters(55)
    tenant_client.post("/entityOperations/create", json=created).raise_for_status()
    seen: list[str] = []
    for offset in range(0, 60, 10):
        params = {"type": "Meter", "limit": "10", "offset": str(offset), "count": "true"}
        response = tenant_client.get("/entities", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["NGSILD-Results-Count"] == "55"
        page = [entity["id"] for entity in response.json()]
        assert len(page) == (10 if offset < 50 else 5)
        seen.extend(page)
    assert len(seen) == len(set(seen)) == 55
    assert set(seen) == {meter["id"] for meter in created}
    past_the_end = tenant_client.get("/entities", params={"type": "Meter", "limit": "10", "offset": "60"})
    assert past_the_end.json() == []


def test_paging_through_filtered_results_fills_every_page(tenant_client: httpx.Client) -> None:
    tenant_client.post("/entityOperations/create", json=meters(40)).raise_for_status()
    seen: list[str] = []
    for offset in range(0, 20, 6):
        params = {"type": "Meter", "q": "even==true", "limit": "6", "offset": str(offset), "count": "true"}
        response = tenant_client.get("/entities", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["NGSILD-Results-Count"] == "20"
        page = [entity["id"] for entity in response.json()]
        assert len(page) == min(6, 20 - offset)
        seen.extend(page)
    assert sorted(seen) == [f"{METER}{n:03d}" for n in range(0, 40, 2)]


def test_post_query_pages_with_limit_and_count(twelve: httpx.Client) -> None:
    query = {"type": "Query", "entities": [{"type": "Meter"}], "q": "even==false"}
    first = twelve.post("/entityOperations/query", params={"limit": "4", "count": "true"}, json=query)
    rest = twelve.post("/entityOperations/query", params={"limit": "4", "offset": "4"}, json=query)
    assert first.status_code == rest.status_code == 200, first.text + rest.text
    assert first.headers["NGSILD-Results-Count"] == "6"
    ids = [entity["id"] for entity in first.json() + rest.json()]
    assert (len(first.json()), len(rest.json())) == (4, 2)
    assert sorted(ids) == [f"{METER}{n:03d}" for n in range(1, 12, 2)]
