"""Clause 4.10 geo-queries: every georel with every geometry kind, geodesic near distances, validation."""

from __future__ import annotations

import math
from typing import Any

import pytest
from cityos_broker.query import GeoBox, GeoCircle, parse_geo_query, parse_geometry
from cityos_broker.query.geodesy import haversine_m
from cityos_runtime.problems import ProblemError

CORE = "https://uri.etsi.org/ngsi-ld/"
SAPPORO = [141.3545, 43.0618]
OTARU = [140.9947, 43.1907]
# A box around central Sapporo (Otaru lies west of it).
BOX = [[[141.2, 42.9], [141.5, 42.9], [141.5, 43.2], [141.2, 43.2], [141.2, 42.9]]]
INNER = [[[141.3, 43.0], [141.4, 43.0], [141.4, 43.1], [141.3, 43.1], [141.3, 43.0]]]
STRADDLING = [[[141.4, 43.1], [141.6, 43.1], [141.6, 43.3], [141.4, 43.3], [141.4, 43.1]]]
FAR = [[[140.0, 42.0], [140.1, 42.0], [140.1, 42.1], [140.0, 42.1], [140.0, 42.0]]]


def geo(georel: str, geometry: str, coordinates: Any, geoproperty: str = "") -> Any:
    return parse_geo_query(georel, geometry, coordinates, geoproperty, _expand)


def _expand(term: str) -> str:
    return term if ":" in term else CORE + term


def g(kind: str, coordinates: Any) -> dict[str, Any]:
    return {"type": kind, "coordinates": coordinates}


# --- near: real distances in metres ---


def test_haversine_sapporo_to_otaru_is_about_32_km() -> None:
    assert 32_000 < haversine_m(*SAPPORO, *OTARU) < 33_000


def test_near_max_distance_point_to_point() -> None:
    assert geo("near;maxDistance==33000", "Point", SAPPORO).matches(g("Point", OTARU))
    assert not geo("near;maxDistance==32000", "Point", SAPPORO).matches(g("Point", OTARU))


def test_near_min_distance_point_to_point() -> None:
    assert geo("near;minDistance==32000", "Point", SAPPORO).matches(g("Point", OTARU))
    assert not geo("near;minDistance==33000", "Point", SAPPORO).matches(g("Point", OTARU))


def test_near_coordinates_given_as_json_text() -> None:
    assert geo("near;maxDistance==33000", "Point", "[141.3545, 43.0618]").matches(g("Point", OTARU))


def test_near_tokyo_to_yokohama() -> None:
    tokyo, yokohama = [139.7671, 35.6812], [139.6380, 35.4437]
    assert geo("near;maxDistance==30000", "Point", tokyo).matches(g("Point", yokohama))
    assert not geo("near;maxDistance==25000", "Point", tokyo).matches(g("Point", yokohama))


def test_near_line_reference_uses_distance_to_nearest_point() -> None:
    line = [[141.0, 43.0], [141.0, 43.1]]
    # 0.01 degrees of longitude at latitude 43.05 is about 812.3 m.
    expected = haversine_m(141.0, 43.05, 141.01, 43.05)
    assert 805 < expected < 820
    assert geo(f"near;maxDistance=={expected * 1.002}", "LineString", line).matches(
        g("Point", [141.01, 43.05])
    )
    assert not geo(f"near;maxDistance=={expected * 0.998}", "LineString", line).matches(
        g("Point", [141.01, 43.05])
    )


def test_near_point_reference_to_polygon_target_edge() -> None:
    # The polygon's nearest edge is 0.1 degrees of latitude (about 11.1 km) north of the point.
    square = [[[141.3, 43.2], [141.4, 43.2], [141.4, 43.3], [141.3, 43.3], [141.3, 43.2]]]
    reference = [141.35, 43.1]
    expected = haversine_m(141.35, 43.1, 141.35, 43.2)
    assert geo(f"near;maxDistance=={expected + 20}", "Point", reference).matches(g("Polygon", square))
    assert not geo(f"near;maxDistance=={expected - 20}", "Point", reference).matches(g("Polygon", square))


def test_near_polygon_reference_contains_point_at_distance_zero() -> None:
    assert geo("near;maxDistance==1", "Polygon", BOX).matches(g("Point", SAPPORO))
    assert not geo("near;minDistance==1", "Polygon", BOX).matches(g("Point", SAPPORO))


@pytest.mark.parametrize(
    ("kind", "coordinates"),
    [
        ("MultiPoint", [[141.0, 43.0], [141.3545, 43.0618]]),
        ("MultiLineString", [[[141.35, 43.0], [141.35, 43.1]], [[140.0, 42.0], [140.1, 42.0]]]),
        ("MultiPolygon", [INNER[0:1], FAR[0:1]]),
        ("LineString", [[141.35, 43.0], [141.36, 43.1]]),
    ],
)
def test_near_with_every_reference_kind(kind: str, coordinates: Any) -> None:
    assert geo("near;maxDistance==2000", kind, coordinates).matches(g("Point", SAPPORO))
    assert not geo("near;maxDistance==2000", kind, coordinates).matches(g("Point", [145.0, 44.0]))


# --- topological relations ---


@pytest.mark.parametrize(
    ("kind", "coordinates", "expected"),
    [
        ("Point", SAPPORO, True),
        ("Point", OTARU, False),
        ("MultiPoint", [SAPPORO, [141.3, 43.0]], True),
        ("MultiPoint", [SAPPORO, OTARU], False),
        ("LineString", [[141.3, 43.0], [141.4, 43.1]], True),
        ("LineString", [[141.3, 43.0], [141.7, 43.1]], False),
        ("MultiLineString", [[[141.3, 43.0], [141.4, 43.1]], [[141.25, 43.0], [141.26, 43.0]]], True),
        ("Polygon", INNER, True),
        ("Polygon", STRADDLING, False),
        ("MultiPolygon", [INNER], True),
        ("MultiPolygon", [INNER, FAR], False),
    ],
)
def test_within_polygon(kind: str, coordinates: Any, expected: bool) -> None:
    assert geo("within", "Polygon", BOX).matches(g(kind, coordinates)) is expected


def test_within_multipolygon_reference() -> None:
    query = geo("within", "MultiPolygon", [BOX, FAR])
    assert query.matches(g("Point", SAPPORO))
    assert query.matches(g("Point", [140.05, 42.05]))
    assert not query.matches(g("Point", OTARU))


def test_contains_target_contains_reference() -> None:
    assert geo("contains", "Point", SAPPORO).matches(g("Polygon", BOX))
    assert not geo("contains", "Point", OTARU).matches(g("Polygon", BOX))
    assert geo("contains", "LineString", [[141.3, 43.0], [141.4, 43.1]]).matches(g("Polygon", BOX))
    assert geo("contains", "Polygon", INNER).matches(g("MultiPolygon", [BOX]))
    assert not geo("contains", "Polygon", BOX).matches(g("Polygon", INNER))


@pytest.mark.parametrize(
    ("kind", "coordinates", "expected"),
    [
        ("Point", SAPPORO, True),
        ("Point", OTARU, False),
        ("LineString", [[141.0, 43.0], [141.3, 43.0]], True),  # crosses the west edge
        ("LineString", [[140.0, 43.0], [141.0, 43.0]], False),
        ("Polygon", STRADDLING, True),
        ("Polygon", FAR, False),
        ("MultiPoint", [OTARU, SAPPORO], True),
        ("MultiLineString", [[[140.0, 43.0], [141.0, 43.0]]], False),
        ("MultiPolygon", [FAR, STRADDLING], True),
    ],
)
def test_intersects_and_disjoint_are_complements(kind: str, coordinates: Any, expected: bool) -> None:
    target = g(kind, coordinates)
    assert geo("intersects", "Polygon", BOX).matches(target) is expected
    assert geo("disjoint", "Polygon", BOX).matches(target) is (not expected)


def test_intersects_line_reference_with_polygon_target() -> None:
    assert geo("intersects", "LineString", [[141.0, 43.05], [141.35, 43.05]]).matches(g("Polygon", BOX))


def test_overlaps() -> None:
    query = geo("overlaps", "Polygon", BOX)
    assert query.matches(g("Polygon", STRADDLING))
    assert not query.matches(g("Polygon", INNER))  # inside is not overlapping
    assert not query.matches(g("Polygon", FAR))
    assert geo("overlaps", "MultiPoint", [SAPPORO, OTARU]).matches(g("MultiPoint", [SAPPORO, [140.0, 42.0]]))


def test_equals_is_topological() -> None:
    rotated = [[[141.5, 42.9], [141.5, 43.2], [141.2, 43.2], [141.2, 42.9], [141.5, 42.9]]]
    assert geo("equals", "Polygon", BOX).matches(g("Polygon", rotated))
    assert not geo("equals", "Polygon", BOX).matches(g("Polygon", INNER))
    assert geo("equals", "Point", SAPPORO).matches(g("Point", [*SAPPORO, 12.0]))
    assert geo("equals", "LineString", [[0, 0], [1, 1]]).matches(g("LineString", [[1, 1], [0, 0]]))


def test_invalid_target_geometry_never_matches() -> None:
    query = geo("intersects", "Polygon", BOX)
    assert not query.matches({"type": "Point"})
    assert not query.matches({"type": "Point", "coordinates": [500, 43]})
    assert not query.matches({"type": "GeometryCollection", "geometries": []})
    assert not geo("near;maxDistance==10", "Point", SAPPORO).matches(
        {"type": "LineString", "coordinates": [1]}
    )


# --- entity level ---


def _entity(geo_value: Any, name: str = "location") -> dict[str, Any]:
    return {
        "id": "urn:x:1",
        "type": ["T"],
        "attrs": {CORE + name: [{"type": "GeoProperty", "value": geo_value}]},
    }


def test_matches_entity_on_default_location() -> None:
    assert geo("near;maxDistance==100", "Point", SAPPORO).matches_entity(_entity(g("Point", SAPPORO)))


def test_matches_entity_on_named_geoproperty() -> None:
    query = geo("within", "Polygon", BOX, "observationSpace")
    assert query.geoproperty_iri == CORE + "observationSpace"
    assert query.matches_entity(_entity(g("Point", SAPPORO), "observationSpace"))
    assert not query.matches_entity(_entity(g("Point", SAPPORO)))


def test_entity_without_geoproperty_never_matches_even_disjoint() -> None:
    assert not geo("disjoint", "Polygon", BOX).matches_entity({"id": "urn:x:1", "type": ["T"], "attrs": {}})


def test_any_geoproperty_instance_may_match() -> None:
    ent = {
        "id": "urn:x:1",
        "type": ["T"],
        "attrs": {
            CORE + "location": [
                {"type": "GeoProperty", "value": g("Point", OTARU)},
                {"type": "GeoProperty", "value": g("Point", SAPPORO), "datasetId": "urn:x:gps"},
            ]
        },
    }
    assert geo("within", "Polygon", BOX).matches_entity(ent)


# --- pre-filter areas ---


def test_search_area_near_point_is_a_padded_circle() -> None:
    area = geo("near;maxDistance==2000", "Point", SAPPORO).search_area()
    assert isinstance(area, GeoCircle)
    assert (area.lon, area.lat) == (SAPPORO[0], SAPPORO[1])
    assert 2000 <= area.radius_m < 2010


def test_search_area_near_line_is_the_grown_box() -> None:
    query = geo("near;maxDistance==1000", "LineString", [[141.0, 43.0], [141.0, 43.1]])
    area = query.search_area()
    assert isinstance(area, GeoBox)
    assert area.min_lon < 141.0 - 0.0122 and area.max_lon > 141.0 + 0.0122  # 1 km of longitude there
    assert area.min_lat < 43.0 - 0.009 and area.max_lat > 43.1 + 0.009
    assert not query.area_covers_all_shapes


def test_search_area_within_is_the_reference_box_for_all_shapes() -> None:
    query = geo("within", "Polygon", BOX)
    assert query.search_area() == GeoBox(141.2, 42.9, 141.5, 43.2)
    assert query.area_covers_all_shapes


def test_search_area_intersects_covers_points_only() -> None:
    query = geo("intersects", "Polygon", BOX)
    assert query.search_area() == GeoBox(141.2, 42.9, 141.5, 43.2)
    assert not query.area_covers_all_shapes


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates"),
    [
        ("disjoint", "Polygon", BOX),
        ("near;minDistance==10", "Point", SAPPORO),
        ("contains", "Point", SAPPORO),
    ],
)
def test_no_search_area_when_nothing_narrows(georel: str, geometry: str, coordinates: Any) -> None:
    assert geo(georel, geometry, coordinates).search_area() is None


def test_search_area_box_across_antimeridian_keeps_every_longitude() -> None:
    area = geo("near;maxDistance==50000", "LineString", [[179.9, 0.0], [179.95, 0.1]]).search_area()
    assert isinstance(area, GeoBox)
    assert (area.min_lon, area.max_lon) == (-180.0, 180.0)


# --- validation ---


@pytest.mark.parametrize(
    ("georel", "fragment"),
    [
        ("", "expected one of"),
        ("nearby", "expected one of"),
        ("near", "near needs"),
        ("near;maxDistance", "near needs"),
        ("near;maxDistance==0", "positive"),
        ("near;maxDistance==-5", "near needs"),
        ("near;maxDistance==1;minDistance==2", "near needs"),
        ("near;distance==5", "near needs"),
        ("within;maxDistance==5", "takes no modifier"),
        ("equals;x", "takes no modifier"),
    ],
)
def test_bad_georel(georel: str, fragment: str) -> None:
    with pytest.raises(ProblemError) as caught:
        geo(georel, "Point", SAPPORO)
    assert caught.value.kind == "BadRequestData"
    assert fragment in caught.value.detail


@pytest.mark.parametrize(
    ("geometry", "coordinates", "fragment"),
    [
        ("", SAPPORO, "needs 'geometry'"),
        ("Circle", SAPPORO, "unsupported geometry type"),
        ("GeometryCollection", [], "unsupported geometry type"),
        ("Point", "", "needs 'coordinates'"),
        ("Point", "[141.3,", "not a JSON array"),
        ("Point", [141.3], "a position is"),
        ("Point", [1, 2, 3, 4], "a position is"),
        ("Point", [181, 43], "out of range"),
        ("Point", [141, -91], "out of range"),
        ("Point", [True, 43], "finite numbers"),
        ("Point", ["141", "43"], "finite numbers"),
        ("Point", {"lon": 1}, "a position is"),
        ("MultiPoint", [], "non-empty"),
        ("LineString", [[141, 43]], "at least 2 positions"),
        ("MultiLineString", [[[141, 43]]], "at least 2 positions"),
        ("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 1]]], "closed"),
        ("Polygon", [[[0, 0], [1, 0], [0, 0]]], "at least 4 positions"),
        ("Polygon", [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], "Self-intersection"),
        ("MultiPolygon", [[[[0, 0], [1, 0], [1, 1], [0, 0]]], []], "non-empty"),
    ],
)
def test_bad_reference_geometry(geometry: str, coordinates: Any, fragment: str) -> None:
    with pytest.raises(ProblemError) as caught:
        geo("intersects", geometry, coordinates)
    assert caught.value.kind == "BadRequestData"
    assert fragment in caught.value.detail


def test_parse_geometry_for_stored_values() -> None:
    assert parse_geometry(g("Point", SAPPORO)).geom_type == "Point"
    with pytest.raises(ProblemError):
        parse_geometry("POINT(1 2)")


def test_distance_is_finite_for_far_apart_points() -> None:
    antipode = geo("near;maxDistance==20100000", "Point", [0.0, 0.0])
    assert antipode.matches(g("Point", [180.0, 0.0]))
    assert math.isclose(haversine_m(0, 0, 180, 0), math.pi * 6_371_008.8)


def test_altitudes_are_ignored_even_when_mixed() -> None:
    query = geo("intersects", "LineString", [[141.3, 43.0], [141.4, 43.1, 120.0]])
    assert query.matches(
        g("Polygon", [[[141.2, 42.9, 5], [141.5, 42.9], [141.5, 43.2, 7], [141.2, 43.2], [141.2, 42.9]]])
    )
