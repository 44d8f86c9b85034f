"""Demo data for the local stack: Hokkaido river gauges and evacuation shelters, upserted per tenant.

Terms (waterLevel, alertLevel, capacity, ...) are left to the NGSI-LD core @context's default vocabulary,
so the seeded data can be queried with plain `curl` and no Link header. Coordinates are [longitude,
latitude] of real places; readings and capacities are illustrative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

Entity = dict[str, Any]

PREFECTURE = "hokkaido"
MUNICIPALITIES = ("sapporo", "otaru")
TENANTS = (PREFECTURE, *MUNICIPALITIES)


@dataclass(frozen=True)
class Gauge:
    """A river water-level gauge and its latest reading."""

    key: str
    river: str
    lon: float
    lat: float
    level_m: float
    alert: str


@dataclass(frozen=True)
class Shelter:
    """An evacuation shelter with Japanese and English names."""

    key: str
    name_ja: str
    name_en: str
    capacity: int
    lon: float
    lat: float


_GAUGES: Mapping[str, Sequence[Gauge]] = {
    PREFECTURE: (Gauge("hokkaido-ishikari-01", "Ishikari River", 141.3946, 43.1706, 3.10, "caution"),),
    "sapporo": (
        Gauge("sapporo-toyohira-01", "Toyohira River", 141.3634, 43.0492, 2.35, "caution"),
        Gauge("sapporo-toyohira-02", "Toyohira River", 141.4205, 43.0938, 1.62, "normal"),
        Gauge("sapporo-shinkawa-01", "Shinkawa River", 141.3098, 43.1093, 0.85, "normal"),
        Gauge("sapporo-soseigawa-01", "Sosei River", 141.3596, 43.0795, 0.42, "normal"),
    ),
    "otaru": (
        Gauge("otaru-katsunai-01", "Katsunai River", 140.9930, 43.1905, 1.12, "normal"),
        Gauge("otaru-asari-01", "Asari River", 141.0603, 43.1544, 0.77, "normal"),
    ),
}

_SHELTERS: Mapping[str, Sequence[Shelter]] = {
    PREFECTURE: (),
    "sapporo": (
        Shelter("sapporo-nakajima-park", "中島公園", "Nakajima Park", 10000, 141.3545, 43.0456),
        Shelter("sapporo-odori-park", "大通公園", "Odori Park", 20000, 141.3508, 43.0601),
        Shelter("sapporo-kita-gym", "北区体育館", "Kita Ward Gymnasium", 600, 141.3427, 43.0907),
    ),
    "otaru": (
        Shelter("otaru-general-gym", "小樽市総合体育館", "Otaru General Gymnasium", 800, 140.9986, 43.1932),
        Shelter("otaru-canal-plaza", "小樽運河プラザ", "Otaru Canal Plaza", 300, 141.0010, 43.1990),
    ),
}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def gauge_entity(gauge: Gauge, observed_at: str) -> Entity:
    """A normalized NGSI-LD WaterLevelGauge entity."""
    return {
        "id": f"urn:ngsi-ld:WaterLevelGauge:{gauge.key}",
        "type": "WaterLevelGauge",
        "riverName": {"type": "Property", "value": gauge.river},
        "waterLevel": {
            "type": "Property",
            "value": gauge.level_m,
            "unitCode": "MTR",
            "observedAt": observed_at,
        },
        "alertLevel": {"type": "Property", "value": gauge.alert, "observedAt": observed_at},
        "location": _point(gauge.lon, gauge.lat),
    }


def shelter_entity(shelter: Shelter) -> Entity:
    """A normalized NGSI-LD EvacuationShelter entity."""
    return {
        "id": f"urn:ngsi-ld:EvacuationShelter:{shelter.key}",
        "type": "EvacuationShelter",
        "name": {"type": "LanguageProperty", "languageMap": {"ja": shelter.name_ja, "en": shelter.name_en}},
        "capacity": {"type": "Property", "value": shelter.capacity},
        "location": _point(shelter.lon, shelter.lat),
    }


def demo_entities(observed_at: datetime) -> dict[str, list[Entity]]:
    """Every tenant's demo entities; readings carry `observed_at` (an aware datetime, written in UTC)."""
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    stamp = observed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        tenant: [gauge_entity(g, stamp) for g in _GAUGES[tenant]]
        + [shelter_entity(s) for s in _SHELTERS[tenant]]
        for tenant in TENANTS
    }


class SeedError(RuntimeError):
    """The gateway refused part of the demo data."""


def seed(client: httpx.Client, observed_at: datetime) -> dict[str, int]:
    """Upsert the demo entities via the gateway (`client.base_url` ends in /ngsi-ld/v1); counts per tenant.

    Upsert merges attributes, so running it again refreshes the demo readings and keeps everything else.
    """
    counts: dict[str, int] = {}
    for tenant, entities in demo_entities(observed_at).items():
        response = client.post(
            "/entityOperations/upsert",
            json=entities,
            headers={"NGSILD-Tenant": tenant, "Content-Type": "application/json"},
        )
        if response.status_code not in (201, 204):
            raise SeedError(f"seeding tenant {tenant!r}: HTTP {response.status_code}: {response.text[:2000]}")
        counts[tenant] = len(entities)
    return counts
