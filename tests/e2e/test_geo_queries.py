"""Geo-queries: near, within, contains, intersects, equals, disjoint, overlaps (GS CIM 009, 4.10, 6.4.3.2)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

# Real places; distances from Sapporo Station (great circle): TV Tower ~946 m, Susukino ~1458 m, Otaru ~32 km.
SAPPORO_STATION = [141.3508, 43.0686]
TV_TOWER = [141.3563, 43.0611]
SUSUKINO = [141.3531, 43.0556]
OTARU_STATION = [140.9935, 43.1979]
ODORI_PARK = [[[141.340, 43.058], [141.365, 43.058], [141.365, 43.063], [141.340, 43.063], [141.340, 43.058]]]
CENTRAL_SAPPORO = [[[141.30, 43.03], [141.40, 43.03], [141.40, 43.10], [141.30, 43.10], [141.30, 43.03]]]
OTARU_AREA = [[[140.95, 43.17], [141.05, 43.17], [141.05, 43.23], [140.95, 43.23], [140.95, 43.17]]]
AROUND_STATION = [
    [[141.345, 43.065], [141.355, 43.065], [141.355, 43.072], [141.345, 43.072], [141.345, 43.065]]
]

LANDMARK = "urn:ngsi-ld:Landmark:"
STATION, TOWER, NIGHTLIFE, OTARU = (LANDMARK + key for key in ("station", "tv-tower", "susukino", "otaru"))
PARK = "urn:ngsi-ld:Park:odori"
RAILWAY = "urn:ngsi-ld:Railway:hakodate-line"
BUS_STOPS = "urn:ngsi-ld:BusStops:otaru"
CAMERA = "urn:ngsi-ld:Camera:station-south"


def _geo(geometry_type: str, coordinates: Any) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": geometry_type, "coordinates": coordinates}}


def _place(
    entity_id: str, entity_type: str, geometry_type: str, coordinates: Any, **attrs: Any
) -> dict[str, Any]:
    return {"id": entity_id, "type": entity_type, "location": _geo(geometry_type, coordinates), **attrs}


PLACES: list[dict[str, Any]] = [
    _place(STATION, "Landmark", "Point", SAPPORO_STATION),
    _place(TOWER, "Landmark", "Point", TV_TOWER),
    _place(NIGHTLIFE, "Landmark", "Point", SUSUKINO),
    _place(OTARU, "Landmark", "Point", OTARU_STATION),
    _place(PARK, "Park", "Polygon", ODORI_PARK),
    _place(RAILWAY, "Railway", "LineString", [SAPPORO_STATION, OTARU_STATION]),
    _place(BUS_STOPS, "BusStops", "MultiPoint", [[140.9940, 43.1975], [141.0000, 43.1900]]),
    _place(CAMERA, "Camera", "Point", SAPPORO_STATION, observationSpace=_geo("Polygon", ODORI_PARK)),
]


@pytest.fixture
def city(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, with Sapporo and Otaru places created."""
    response = tenant_client.post("/entityOperations/create", json=PLACES)
    assert response.status_code == 201, response.text
    return tenant_client


def geo_params(georel: str, geometry: str, coordinates: Any) -> dict[str, str]:
    """The query parameters of a geo-query."""
    return {"georel": georel, "geometry": geometry, "coordinates": json.dumps(coordinates)}


def geo_found(
    tenant_client: httpx.Client, georel: str, geometry: str, coordinates: Any, **params: str
) -> set[str]:
    """The ids a GET /entities geo-query returns."""
    query = geo_params(georel, geometry, coordinates) | params
    query.setdefault("type", "Landmark,Park,Railway,BusStops")
    response = tenant_client.get("/entities", params=query)
    assert response.status_code == 200, f"{query}: {response.text}"
    return {entity["id"] for entity in response.json()}


def test_near_with_max_distance_finds_places_within_it(city: httpx.Client) -> None:
    found = geo_found(city, "near;maxDistance==1000", "Point", SAPPORO_STATION, type="Landmark")
    assert found == {STATION, TOWER}


def test_near_with_min_distance_finds_places_beyond_it(city: httpx.Client) -> None:
    found = geo_found(city, "near;minDistance==2000", "Point", SAPPORO_STATION, type="Landmark")
    assert found == {OTARU}


def test_near_measures_to_the_nearest_point_of_a_polygon(city: httpx.Client) -> None:
    # Odori Park's north edge (43.063) is ~620 m south of the station; its centre is farther than 1 km away.
    found = geo_found(city, "near;maxDistance==700", "Point", SAPPORO_STATION, type="Park")
    assert found == {PARK}


def test_within_polygon_finds_what_lies_inside(city: httpx.Client) -> None:
    assert geo_found(city, "within", "Polygon", CENTRAL_SAPPORO) == {STATION, TOWER, NIGHTLIFE, PARK}


def test_within_multi_polygon_finds_what_lies_inside_any_part(city: httpx.Client) -> None:
    found = geo_found(city, "within", "MultiPolygon", [AROUND_STATION, OTARU_AREA])
    assert found == {STATION, OTARU, BUS_STOPS}


def test_contains_point_finds_the_polygon_around_it(city: httpx.Client) -> None:
    assert geo_found(city, "contains", "Point", [141.350, 43.060]) == {PARK}


def test_intersects_line_string_finds_what_it_crosses(city: httpx.Client) -> None:
    assert geo_found(city, "intersects", "LineString", [[141.345, 43.050], [141.345, 43.066]]) == {PARK}


def test_intersects_polygon_finds_points_lines_and_polygons(city: httpx.Client) -> None:
    assert geo_found(city, "intersects", "Polygon", AROUND_STATION) == {STATION, RAILWAY}


def test_equals_point_finds_the_place_at_exactly_that_point(city: httpx.Client) -> None:
    assert geo_found(city, "equals", "Point", SAPPORO_STATION) == {STATION}


def test_disjoint_polygon_finds_what_does_not_touch_it(city: httpx.Client) -> None:
    found = geo_found(city, "disjoint", "Polygon", OTARU_AREA)
    assert found == {STATION, TOWER, NIGHTLIFE, PARK}


def test_overlaps_polygon_finds_polygons_sharing_part_of_their_area(city: httpx.Client) -> None:
    east_of_park = [
        [[141.36, 43.055], [141.37, 43.055], [141.37, 43.070], [141.36, 43.070], [141.36, 43.055]]
    ]
    assert geo_found(city, "overlaps", "Polygon", east_of_park) == {PARK}


def test_geoproperty_selects_another_geo_property(city: httpx.Client) -> None:
    point_in_park = [141.350, 43.060]
    found = geo_found(
        city, "intersects", "Point", point_in_park, type="Camera", geoproperty="observationSpace"
    )
    assert found == {CAMERA}
    assert geo_found(city, "intersects", "Point", point_in_park, type="Camera") == set()


def test_post_query_with_geo_q_finds_like_the_get_binding(city: httpx.Client) -> None:
    query = {
        "type": "Query",
        "entities": [{"type": "Landmark"}],
        "geoQ": {"geometry": "Point", "coordinates": SAPPORO_STATION, "georel": "near;maxDistance==1000"},
    }
    response = city.post("/entityOperations/query", json=query)
    assert response.status_code == 200, response.text
    assert {entity["id"] for entity in response.json()} == {STATION, TOWER}


def test_geo_query_combines_with_q(city: httpx.Client) -> None:
    city.patch(f"/entities/{TOWER}", json={"open": {"type": "Property", "value": False}}).raise_for_status()
    city.patch(f"/entities/{STATION}", json={"open": {"type": "Property", "value": True}}).raise_for_status()
    found = geo_found(
        city, "near;maxDistance==1000", "Point", SAPPORO_STATION, type="Landmark", q="open==true"
    )
    assert found == {STATION}


def test_geo_query_counts_and_pages_only_matching_entities(city: httpx.Client) -> None:
    params = {"type": "Landmark", "count": "true", "limit": "1"}
    first = city.get("/entities", params=params | geo_params("within", "Polygon", CENTRAL_SAPPORO))
    second = city.get(
        "/entities", params=params | {"offset": "1"} | geo_params("within", "Polygon", CENTRAL_SAPPORO)
    )
    assert first.status_code == second.status_code == 200, first.text + second.text
    assert first.headers["NGSILD-Results-Count"] == "3"
    ids = [entity["id"] for entity in first.json() + second.json()]
    assert len(ids) == len(set(ids)) == 2
    assert set(ids) <= {STATION, TOWER, NIGHTLIFE}


def test_near_measures_to_the_nearest_point_of_a_line(city: httpx.Client) -> None:
    # ~310 m from the Hakodate line near Otaru, ~16 km from the line's midpoint.
    beside_the_line = [141.0100, 43.1950]
    found = geo_found(city, "near;maxDistance==1000", "Point", beside_the_line, type="Railway")
    assert found == {RAILWAY}


def test_within_respects_a_polygon_hole(city: httpx.Client) -> None:
    hole_around_tower = [
        [141.355, 43.060],
        [141.358, 43.060],
        [141.358, 43.0625],
        [141.355, 43.0625],
        [141.355, 43.060],
    ]
    with_hole = [CENTRAL_SAPPORO[0], hole_around_tower]
    assert geo_found(city, "within", "Polygon", with_hole) == {STATION, NIGHTLIFE}


def test_equals_compares_shapes_not_the_order_of_vertices(city: httpx.Client) -> None:
    ring = ODORI_PARK[0]
    same_park_other_start = [[*ring[1:-1], ring[0], ring[1]]]
    assert geo_found(city, "equals", "Polygon", same_park_other_start) == {PARK}
