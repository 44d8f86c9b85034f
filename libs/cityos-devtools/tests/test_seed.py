"""The demo data is valid normalized NGSI-LD and is upserted once per tenant."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from cityos_devtools.seed import TENANTS, SeedError, demo_entities, seed

NOW = datetime(2026, 6, 1, 3, 0, 0, tzinfo=UTC)
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # the gateway's rule for NGSILD-Tenant
ATTRIBUTE_TYPES = {"Property", "GeoProperty", "LanguageProperty"}


def _all() -> list[tuple[str, dict]]:
    return [(tenant, entity) for tenant, entities in demo_entities(NOW).items() for entity in entities]


def _case_id(value: object) -> str:
    return value["id"].rsplit(":", 1)[-1] if isinstance(value, dict) else str(value)


def test_tenants_are_the_prefecture_and_two_municipalities() -> None:
    assert set(demo_entities(NOW)) == {"hokkaido", "sapporo", "otaru"} == set(TENANTS)
    assert all(TENANT_NAME.fullmatch(tenant) for tenant in TENANTS)


@pytest.mark.parametrize(("tenant", "entity"), _all(), ids=_case_id)
def test_each_entity_is_normalized_ngsi_ld(tenant: str, entity: dict) -> None:
    kind = entity["type"]
    assert kind in {"WaterLevelGauge", "EvacuationShelter"}
    assert re.fullmatch(rf"urn:ngsi-ld:{kind}:[a-z0-9-]+", entity["id"])
    assert entity["id"].split(":")[-1].startswith(tenant)
    for name, attribute in entity.items():
        if name in ("id", "type"):
            continue
        assert attribute["type"] in ATTRIBUTE_TYPES, name
        assert ("languageMap" if attribute["type"] == "LanguageProperty" else "value") in attribute, name
    location = entity["location"]
    assert location["type"] == "GeoProperty"
    assert location["value"]["type"] == "Point"
    lon, lat = location["value"]["coordinates"]
    assert 139.3 < lon < 145.9 and 41.3 < lat < 45.6, "inside Hokkaido"
    json.dumps(entity, allow_nan=False)  # plain JSON, no NaN or non-serialisable values


def test_gauges_carry_level_in_metres_with_observation_time() -> None:
    gauges = [entity for _, entity in _all() if entity["type"] == "WaterLevelGauge"]
    assert len(gauges) >= 5
    for gauge in gauges:
        level = gauge["waterLevel"]
        assert isinstance(level["value"], float) and 0 <= level["value"] < 20
        assert level["unitCode"] == "MTR"
        assert level["observedAt"] == "2026-06-01T03:00:00Z"
        assert isinstance(gauge["alertLevel"]["value"], str)


def test_shelters_have_japanese_and_english_names_and_a_capacity() -> None:
    shelters = [entity for _, entity in _all() if entity["type"] == "EvacuationShelter"]
    assert shelters
    for shelter in shelters:
        assert set(shelter["name"]["languageMap"]) == {"ja", "en"}
        assert isinstance(shelter["capacity"]["value"], int) and shelter["capacity"]["value"] > 0


def test_ids_are_unique_across_tenants() -> None:
    ids = [entity["id"] for _, entity in _all()]
    assert len(ids) == len(set(ids))


def test_the_demo_queries_have_matches() -> None:
    sapporo = demo_entities(NOW)["sapporo"]
    above = [e["id"] for e in sapporo if e["type"] == "WaterLevelGauge" and e["waterLevel"]["value"] > 2.0]
    assert above == ["urn:ngsi-ld:WaterLevelGauge:sapporo-toyohira-01"]


def test_observation_time_is_written_in_utc() -> None:
    jst = timezone(timedelta(hours=9))
    gauge = demo_entities(datetime(2026, 6, 1, 12, 0, tzinfo=jst))["otaru"][0]
    assert gauge["waterLevel"]["observedAt"] == "2026-06-01T03:00:00Z"


def test_naive_observation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        demo_entities(datetime(2026, 6, 1, 3, 0))


def test_seed_upserts_each_tenant_once_with_its_header() -> None:
    requests: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(201 if len(requests) == 1 else 204)

    with httpx.Client(base_url="http://gw/ngsi-ld/v1", transport=httpx.MockTransport(gateway)) as client:
        counts = seed(client, NOW)
    assert [r.headers["NGSILD-Tenant"] for r in requests] == list(TENANTS)
    assert {r.url.path for r in requests} == {"/ngsi-ld/v1/entityOperations/upsert"}
    assert all(r.headers["Content-Type"] == "application/json" for r in requests)
    sent = {r.headers["NGSILD-Tenant"]: json.loads(r.content) for r in requests}
    assert sent == demo_entities(NOW)
    assert counts == {tenant: len(entities) for tenant, entities in sent.items()}


def test_seed_reports_a_refused_batch() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(207, json={"success": [], "errors": [{"entityId": "x", "error": {}}]})

    with (
        httpx.Client(base_url="http://gw/ngsi-ld/v1", transport=httpx.MockTransport(gateway)) as client,
        pytest.raises(SeedError, match=r"hokkaido.*207"),
    ):
        seed(client, NOW)
