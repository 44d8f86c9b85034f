"""Clause 4.10: every georel against a reference of every geometry kind, one matching and one not."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.query import parse_geo_query

CORE = "https://uri.etsi.org/ngsi-ld/"
SAPPORO = [141.3545, 43.0618]
OTARU = [140.9947, 43.1907]
# Lines share a middle vertex, so points and segments on them are exact in floating point.
MIDDLE = [141.35, 43.05]
LINE = [[141.30, 43.00], MIDDLE, [141.40, 43.10]]
CROSS = [[141.30, 43.10], MIDDLE, [141.40, 43.00]]
EXTENSION = [MIDDLE, [141.40, 43.10], [141.45, 43.15]]  # shares LINE's second half, then leaves it
INNER = [[[141.3, 43.0], [141.4, 43.0], [141.4, 43.1], [141.3, 43.1], [141.3, 43.0]]]
BOX = [[[141.2, 42.9], [141.5, 42.9], [141.5, 43.2], [141.2, 43.2], [141.2, 42.9]]]
FAR = [[[140.0, 42.0], [140.1, 42.0], [140.1, 42.1], [140.0, 42.1], [140.0, 42.0]]]
SHIFTED = [[[141.35, 43.05], [141.45, 43.05], [141.45, 43.15], [141.35, 43.15], [141.35, 43.05]]]

REFERENCES: dict[str, Any] = {
    "Point": SAPPORO,
    "MultiPoint": [SAPPORO, [141.36, 43.07]],
    "LineString": LINE,
    "MultiLineString": [LINE, CROSS],
    "Polygon": INNER,
    "MultiPolygon": [INNER, FAR],
}


def g(kind: str, coordinates: Any) -> dict[str, Any]:
    return {"type": kind, "coordinates": coordinates}


POINT_OTARU = g("Point", OTARU)

# (georel, reference kind) -> (a target that matches or None when none can, a target that does not)
CASES: dict[tuple[str, str], tuple[dict[str, Any] | None, dict[str, Any]]] = {
    ("within", "Point"): (g("Point", SAPPORO), POINT_OTARU),
    ("within", "MultiPoint"): (g("Point", [141.36, 43.07]), POINT_OTARU),
    ("within", "LineString"): (g("Point", MIDDLE), POINT_OTARU),
    ("within", "MultiLineString"): (g("LineString", [[141.30, 43.10], MIDDLE]), POINT_OTARU),
    ("within", "Polygon"): (g("Point", SAPPORO), POINT_OTARU),
    ("within", "MultiPolygon"): (g("MultiPoint", [SAPPORO, [140.05, 42.05]]), g("Polygon", BOX)),
    ("contains", "Point"): (g("Polygon", BOX), g("Polygon", FAR)),
    ("contains", "MultiPoint"): (g("Polygon", BOX), g("Point", SAPPORO)),
    ("contains", "LineString"): (g("Polygon", BOX), g("Polygon", FAR)),
    ("contains", "MultiLineString"): (g("Polygon", BOX), g("LineString", LINE)),
    ("contains", "Polygon"): (g("Polygon", BOX), g("Polygon", SHIFTED)),
    ("contains", "MultiPolygon"): (g("MultiPolygon", [BOX, FAR]), g("Polygon", BOX)),
    ("intersects", "Point"): (g("Polygon", BOX), POINT_OTARU),
    ("intersects", "MultiPoint"): (g("LineString", [[141.3545, 43.0], [141.3545, 43.1]]), POINT_OTARU),
    ("intersects", "LineString"): (g("LineString", CROSS), POINT_OTARU),
    ("intersects", "MultiLineString"): (g("Point", MIDDLE), POINT_OTARU),
    ("intersects", "Polygon"): (g("Polygon", SHIFTED), POINT_OTARU),
    ("intersects", "MultiPolygon"): (g("Point", [140.05, 42.05]), POINT_OTARU),
    ("disjoint", "Point"): (POINT_OTARU, g("Polygon", BOX)),
    ("disjoint", "MultiPoint"): (POINT_OTARU, g("Point", SAPPORO)),
    ("disjoint", "LineString"): (POINT_OTARU, g("LineString", CROSS)),
    ("disjoint", "MultiLineString"): (POINT_OTARU, g("Point", MIDDLE)),
    ("disjoint", "Polygon"): (g("Polygon", FAR), g("Polygon", SHIFTED)),
    ("disjoint", "MultiPolygon"): (POINT_OTARU, g("Polygon", SHIFTED)),
    ("overlaps", "Point"): (None, g("Point", SAPPORO)),  # a single point never overlaps anything
    ("overlaps", "MultiPoint"): (g("MultiPoint", [SAPPORO, [141.0, 43.0]]), g("MultiPoint", [SAPPORO])),
    ("overlaps", "LineString"): (g("LineString", EXTENSION), g("LineString", CROSS)),
    ("overlaps", "MultiLineString"): (g("LineString", EXTENSION), POINT_OTARU),
    ("overlaps", "Polygon"): (g("Polygon", SHIFTED), g("Polygon", BOX)),
    ("overlaps", "MultiPolygon"): (g("Polygon", SHIFTED), g("Polygon", FAR)),
    ("equals", "Point"): (g("Point", SAPPORO), POINT_OTARU),
    ("equals", "MultiPoint"): (g("MultiPoint", [[141.36, 43.07], SAPPORO]), g("Point", SAPPORO)),
    ("equals", "LineString"): (g("LineString", LINE[::-1]), g("LineString", CROSS)),
    ("equals", "MultiLineString"): (g("MultiLineString", [CROSS, LINE]), g("LineString", LINE)),
    ("equals", "Polygon"): (g("MultiPolygon", [INNER]), g("Polygon", BOX)),
    ("equals", "MultiPolygon"): (g("MultiPolygon", [FAR, INNER]), g("Polygon", INNER)),
    ("near;maxDistance==2000", "Point"): (g("Point", [141.36, 43.07]), POINT_OTARU),
    ("near;maxDistance==2000", "MultiPoint"): (g("Point", [141.37, 43.075]), POINT_OTARU),
    ("near;maxDistance==2000", "LineString"): (g("Point", [141.37, 43.06]), POINT_OTARU),
    ("near;maxDistance==2000", "MultiLineString"): (g("Polygon", SHIFTED), POINT_OTARU),
    ("near;maxDistance==2000", "Polygon"): (g("LineString", [[141.41, 43.2], [141.41, 42.9]]), POINT_OTARU),
    ("near;maxDistance==2000", "MultiPolygon"): (g("Point", [140.11, 42.11]), POINT_OTARU),
    ("near;minDistance==2000", "Point"): (POINT_OTARU, g("Point", [141.36, 43.07])),
    ("near;minDistance==2000", "MultiPoint"): (POINT_OTARU, g("Polygon", BOX)),
    ("near;minDistance==2000", "LineString"): (POINT_OTARU, g("Point", [141.37, 43.06])),
    ("near;minDistance==2000", "MultiLineString"): (POINT_OTARU, g("LineString", CROSS)),
    ("near;minDistance==2000", "Polygon"): (POINT_OTARU, g("Polygon", SHIFTED)),
    ("near;minDistance==2000", "MultiPolygon"): (g("Point", [140.5, 42.5]), g("Point", [140.11, 42.11])),
}


@pytest.mark.parametrize(("georel", "kind"), list(CASES), ids=[f"{r}-{k}" for r, k in CASES])
def test_georel_with_reference_kind(georel: str, kind: str) -> None:
    query = parse_geo_query(georel, kind, REFERENCES[kind], "", lambda term: CORE + term)
    matching, other = CASES[georel, kind]
    if matching is not None:
        assert query.matches(matching)
    assert not query.matches(other)


def test_every_georel_and_geometry_kind_is_covered() -> None:
    georels = {"within", "contains", "intersects", "disjoint", "overlaps", "equals"}
    georels |= {"near;maxDistance==2000", "near;minDistance==2000"}
    assert set(CASES) == {(georel, kind) for georel in georels for kind in REFERENCES}
