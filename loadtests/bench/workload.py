"""The bench data set (river water-level gauges across Hokkaido) and the raw requests of each figure."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from loadtests.bench.http1 import encode_request
from loadtests.bench.loadgen import RequestFactory

API = "/ngsi-ld/v1"
ENTITY_TYPE = "WaterLevelGauge"
_OBSERVED_AT = "2026-01-15T09:00:00Z"
# Most gauges sit on the rivers of the Ishikari plain around Sapporo, the rest anywhere in Hokkaido.
_SAPPORO = (141.35, 43.06)
_HOKKAIDO = ((139.8, 145.5), (41.4, 45.5))
_RIVERS = ("Ishikari", "Toyohira", "Tokachi", "Teshio", "Kushiro", "Shiribetsu", "Mukawa", "Saru")
# Quantiles of the water levels used as `q` thresholds: each query matches between 0.5 % and 20 %.
_QUERY_QUANTILES = (0.8, 0.9, 0.95, 0.99, 0.995)


def entity_id(index: int) -> str:
    """The id of gauge number `index`."""
    return f"urn:ngsi-ld:{ENTITY_TYPE}:bench-{index:07d}"


@dataclass(frozen=True)
class Gauges:
    """A deterministic set of gauges: water level (log-normal, metres) and position for each index."""

    levels: tuple[float, ...]
    positions: tuple[tuple[float, float], ...]

    @classmethod
    def generate(cls, count: int, seed: int = 6) -> Gauges:
        """`count` gauges from a fixed seed, so every run queries the same data."""
        rng = random.Random(seed)
        levels = tuple(round(rng.lognormvariate(0.0, 0.6), 3) for _ in range(count))
        positions = tuple(_position(rng) for _ in range(count))
        return cls(levels, positions)

    def __len__(self) -> int:
        return len(self.levels)

    def entity(self, index: int, level: float | None = None) -> dict[str, Any]:
        """Gauge `index` in normalized NGSI-LD form (default @context terms)."""
        lon, lat = self.positions[index]
        return {
            "id": entity_id(index),
            "type": ENTITY_TYPE,
            "waterLevel": _level(self.levels[index] if level is None else level),
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
            "riverName": {"type": "Property", "value": _RIVERS[index % len(_RIVERS)]},
            "municipality": {"type": "Relationship", "object": f"urn:ngsi-ld:Municipality:m{index % 40:02d}"},
        }

    def thresholds(self) -> tuple[float, ...]:
        """`q` thresholds at fixed quantiles of the water levels."""
        ordered = sorted(self.levels)
        return tuple(ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in _QUERY_QUANTILES)


def _position(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.7:
        return round(rng.gauss(_SAPPORO[0], 0.25), 5), round(rng.gauss(_SAPPORO[1], 0.15), 5)
    (lon_lo, lon_hi), (lat_lo, lat_hi) = _HOKKAIDO
    return round(rng.uniform(lon_lo, lon_hi), 5), round(rng.uniform(lat_lo, lat_hi), 5)


def _level(value: float) -> dict[str, Any]:
    return {"type": "Property", "value": value, "unitCode": "MTR", "observedAt": _OBSERVED_AT}


class Requests:
    """Builds the raw bytes of every request the bench sends, for one tenant on one target."""

    def __init__(self, base_url: str, tenant: str, gauges: Gauges, *, token: str | None = None) -> None:
        self._host = urlsplit(base_url).netloc
        self._gauges = gauges
        auth = [("Authorization", f"Bearer {token}")] if token else []
        self._read_headers = [("Accept", "application/json"), ("NGSILD-Tenant", tenant), *auth]
        self._write_headers = [*self._read_headers, ("Content-Type", "application/json")]

    def send(self, method: str, path: str, body: object = None, query: str = "") -> bytes:
        """Any NGSI-LD request under /ngsi-ld/v1 (`path` starts with /), with a JSON body when given."""
        target = f"{API}{path}{'?' + query if query else ''}"
        if body is None:
            return encode_request(method, target, self._host, self._read_headers)
        return encode_request(method, target, self._host, self._write_headers, orjson.dumps(body))

    def _post(self, target: str, body: object, method: str = "POST") -> bytes:
        return encode_request(method, target, self._host, self._write_headers, orjson.dumps(body))

    def batch_upsert(self, indexes: Sequence[int]) -> bytes:
        """One batch upsert of the given gauges (replacing them when they exist)."""
        entities = [self._gauges.entity(i) for i in indexes]
        return self._post(f"{API}/entityOperations/upsert", entities)

    def _single_body(self, number: int) -> bytes:
        """A one-gauge upsert array with a new water level; a prime stride spreads writes over the set."""
        index = number * 7919 % len(self._gauges)
        level = round(self._gauges.levels[index] + number % 100 / 1000, 3)
        return orjson.dumps([self._gauges.entity(index, level=level)])

    def single_upsert(self) -> RequestFactory:
        """Upsert one existing gauge per request, with a new water level."""
        target = f"{API}/entityOperations/upsert"

        def build(number: int) -> bytes:
            return encode_request("POST", target, self._host, self._write_headers, self._single_body(number))

        return build

    def patch_attrs(self) -> RequestFactory:
        """Update one gauge's waterLevel per request, as a sensor reports it."""
        size = len(self._gauges)

        def build(number: int) -> bytes:
            index = number * 7919 % size
            body = {"waterLevel": _level(round(self._gauges.levels[index] + number % 100 / 1000, 3))}
            return self._post(f"{API}/entities/{quote(entity_id(index), safe=':')}/attrs", body, "PATCH")

        return build

    def batch_upserts(self, batch_size: int) -> RequestFactory:
        """Upsert `batch_size` existing gauges per request, walking through the set."""
        size = len(self._gauges)

        def build(number: int) -> bytes:
            start = number * batch_size
            return self.batch_upsert([(start + k) % size for k in range(batch_size)])

        return build

    def get_by_id(self) -> RequestFactory:
        """Retrieve one gauge by id per request."""
        size = len(self._gauges)
        indexes = (i * 7919 % size for i in range(min(size, 4096)))
        targets = [f"{API}/entities/{quote(entity_id(i), safe=':')}" for i in indexes]

        def build(number: int) -> bytes:
            return encode_request("GET", targets[number % len(targets)], self._host, self._read_headers)

        return build

    def query(self, *, count: bool = False) -> RequestFactory:
        """Query by type and `q` (waterLevel above a threshold), cycling through the thresholds; with
        `count` also asking for the total (count=true: the NGSILD-Results-Count header)."""
        extra = "&count=true" if count else ""
        targets = [
            f"{API}/entities?type={ENTITY_TYPE}&q={quote(f'waterLevel>{t}', safe='')}{extra}"
            for t in self._gauges.thresholds()
        ]

        def build(number: int) -> bytes:
            return encode_request("GET", targets[number % len(targets)], self._host, self._read_headers)

        return build

    def baseline_write(self, base_url: str) -> RequestFactory:
        """The single-upsert body, sent to the bare pipeline at `base_url`."""
        host = urlsplit(base_url).netloc
        headers = [("Content-Type", "application/json")]

        def build(number: int) -> bytes:
            return encode_request("POST", "/write", host, headers, self._single_body(number))

        return build
