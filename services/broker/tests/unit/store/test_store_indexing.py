"""Index entries, index differences and representative points of stored entities."""

from __future__ import annotations

import pytest
from cityos_broker.query.geo import GeoBox, GeoCircle
from cityos_broker.store.indexing import index_diff, index_entries, representative_point
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.querying import covering_circle

KEYS = TenantKeys("city")
T = "https://example.org/T"
U = "https://example.org/U"
A = "https://example.org/a"
LOC = "https://uri.etsi.org/ngsi-ld/location"


def _entity(types: list[str], attrs: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    return {"id": "urn:x:1", "type": types, "attrs": attrs}


def _point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def test_keys_share_the_tenant_hash_tag() -> None:
    assert KEYS.entity("urn:x:1") == "{t:city}:e:urn:x:1"
    assert KEYS.type_index(T).startswith("{t:city}:type:")
    assert KEYS.match_all() == "{t:city}:*"


def test_entries_cover_types_attributes_counters_and_points() -> None:
    entity = _entity(
        [T, U],
        {
            A: [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:d"}],
            LOC: [_point(141.35, 43.06)],
        },
    )
    entries = index_entries(KEYS, entity)
    assert entries.members == {
        KEYS.ids,
        KEYS.type_index(T),
        KEYS.type_index(U),
        KEYS.attr_index(A),
        KEYS.attr_index(LOC),
        KEYS.numbers_other(A),  # two instances: no single number to index
        KEYS.numbers_other(LOC),
    }
    assert entries.numbers == {}
    assert entries.counters[(KEYS.types, T)] == 1
    assert entries.counters[(KEYS.attrs, A)] == 2  # instance count
    assert entries.counters[(KEYS.attr_kinds(A), "Property")] == 2
    assert entries.counters[(KEYS.type_attrs(U), LOC)] == 1
    assert entries.counters[(KEYS.type_attr_kinds(T), f"GeoProperty {LOC}")] == 1
    assert entries.counters[(KEYS.type_attr_kinds(U), f"Property {A}")] == 2
    assert entries.points == {KEYS.geo(LOC): (141.35, 43.06)}


def test_polygons_are_points_and_shapes_and_unplaceable_geometries_are_flagged() -> None:
    square = {
        "type": "GeoProperty",
        "value": {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]},
    }
    entries = index_entries(KEYS, _entity([T], {LOC: [square]}))
    assert entries.points[KEYS.geo(LOC)] == (1.0, 1.0)
    assert KEYS.geo_shapes(LOC) in entries.members
    polar = index_entries(KEYS, _entity([T], {LOC: [_point(0, 89.5)]}))
    assert polar.points == {}
    assert KEYS.geo_unplaced(LOC) in polar.members
    lone = index_entries(KEYS, _entity([T], {LOC: [_point(1, 1)]}))
    assert KEYS.geo_shapes(LOC) not in lone.members


def test_diff_of_a_new_entity_adds_everything_and_of_a_deletion_removes_everything() -> None:
    entries = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": 1}], LOC: [_point(1, 2)]}))
    created = index_diff(None, entries, first_slot=4)
    ops = created.args
    assert ops.count("Z+") == len(entries.members)
    assert ops.count("H") == len(entries.counters)
    assert "G" in ops
    # Every key reference points into the KEYS list built alongside.
    refs = [ops[i + 1] for i, op in enumerate(ops) if op in ("Z+", "Z-", "H", "G")]
    assert all(4 <= ref < 4 + len(created.keys) for ref in refs)
    deleted = index_diff(entries, None, first_slot=4)
    # Members plus the GEO point and the numeric entry.
    assert deleted.args.count("Z-") == len(entries.members) + 2
    assert all(int(deleted.args[i + 3]) < 0 for i, op in enumerate(deleted.args) if op == "H")


def test_diff_of_an_unchanged_index_is_empty_and_of_a_change_is_minimal() -> None:
    before = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": 1}]}))
    same = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": 1, "observedAt": "x"}]}))
    assert index_diff(before, same, first_slot=4).args == []
    retyped = index_entries(KEYS, _entity([U], {A: [{"type": "Property", "value": 1}]}))
    diff = index_diff(before, retyped, first_slot=4)
    added = [diff.keys[int(diff.args[i + 1]) - 4] for i, op in enumerate(diff.args) if op == "Z+"]
    removed = [diff.keys[int(diff.args[i + 1]) - 4] for i, op in enumerate(diff.args) if op == "Z-"]
    assert added == [KEYS.type_index(U)]
    assert removed == [KEYS.type_index(T)]


def test_moving_a_point_re_adds_it() -> None:
    before = index_entries(KEYS, _entity([T], {LOC: [_point(1, 2)]}))
    after = index_entries(KEYS, _entity([T], {LOC: [_point(3, 4)]}))
    diff = index_diff(before, after, first_slot=4)
    assert diff.args == ["G", 4, "3.0", "4.0"]


@pytest.mark.parametrize(
    ("geometries", "expected"),
    [
        ([{"type": "Point", "coordinates": [10, 20]}], (10.0, 20.0)),
        ([{"type": "LineString", "coordinates": [[0, 0], [4, 2]]}], (2.0, 1.0)),
        ([{"type": "Point", "coordinates": [0, 0]}, {"type": "Point", "coordinates": [2, 4]}], (1.0, 2.0)),
        (
            [{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 1]}]}],
            (1.0, 1.0),
        ),
        ([{"type": "Point", "coordinates": [1, 2, 30]}], (1.0, 2.0)),
        ([{"type": "Point", "coordinates": "nonsense"}], None),
        ([{"type": "Point", "coordinates": [0, 86]}], None),
    ],
)
def test_representative_point(
    geometries: list[dict[str, object]], expected: tuple[float, float] | None
) -> None:
    assert representative_point(geometries) == expected


def test_covering_circle_contains_every_corner_of_a_box() -> None:
    circle = covering_circle(GeoBox(141.0, 43.0, 141.2, 43.1))
    assert circle.lon == pytest.approx(141.1) and circle.lat == pytest.approx(43.05)
    # Half the diagonal of a ~16 km x 11 km box.
    assert 9_000 < circle.radius_m < 11_000
    given = GeoCircle(1.0, 2.0, 300.0)
    assert covering_circle(given) is given


@pytest.mark.parametrize(
    ("instances", "number"),
    [
        ([{"type": "Property", "value": 3}], 3.0),
        ([{"type": "Property", "value": -2.5}], -2.5),
        ([{"type": "Property", "value": True}], None),
        ([{"type": "Property", "value": "3"}], None),
        ([{"type": "Property", "value": 10**400}], None),
        ([{"type": "Relationship", "object": "urn:x:1"}], None),
        ([{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:d"}], None),
    ],
)
def test_numeric_index_holds_only_single_plain_numbers(
    instances: list[dict[str, object]], number: float | None
) -> None:
    entries = index_entries(KEYS, _entity([T], {A: instances}))
    if number is None:
        assert entries.numbers == {} and KEYS.numbers_other(A) in entries.members
    else:
        assert entries.numbers == {KEYS.numbers(A): number}
        assert KEYS.numbers_other(A) not in entries.members


def test_a_changed_number_is_re_scored_and_a_string_moves_it_out_of_the_numeric_index() -> None:
    one = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": 1}]}))
    two = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": 2}]}))
    assert index_diff(one, two, first_slot=4).args == ["N", 4, "2.0"]
    text = index_entries(KEYS, _entity([T], {A: [{"type": "Property", "value": "high"}]}))
    diff = index_diff(one, text, first_slot=4)
    assert diff.keys == [KEYS.numbers_other(A), KEYS.numbers(A)]
    assert diff.args == ["Z+", 4, "Z-", 5]
