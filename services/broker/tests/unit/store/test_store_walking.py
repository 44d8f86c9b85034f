"""When a numeric query walks its type index, and how a walked chunk is pre-filtered (no sockets)."""

from __future__ import annotations

import math

from cityos_broker.query.filter import IndexPlan
from cityos_broker.query.geo import GeoCircle
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.walking import RangeCheck, RangeStats, Walk, _passing, plan_walk, walk_driver

KEYS = TenantKeys("city")
PLAN = IndexPlan(
    type_dnf=(frozenset({"T"}),), required_attrs=frozenset({"x", "y"}), numeric_ranges={"x": (10.0, None)}
)


def test_only_one_type_with_a_numeric_range_can_be_walked() -> None:
    assert walk_driver(KEYS, PLAN) == KEYS.type_index("T")
    assert walk_driver(KEYS, IndexPlan(type_dnf=(frozenset({"T"}),))) is None
    assert walk_driver(KEYS, IndexPlan(numeric_ranges={"x": (1.0, None)})) is None
    two_types = IndexPlan(type_dnf=(frozenset({"A"}), frozenset({"B"})), numeric_ranges={"x": (1.0, None)})
    assert walk_driver(KEYS, two_types) is None
    geo = IndexPlan(
        type_dnf=(frozenset({"T"}),),
        numeric_ranges={"x": (1.0, None)},
        geo_property="loc",
        geo_area=GeoCircle(1.0, 2.0, 5.0),
    )
    assert walk_driver(KEYS, geo) is None


def test_a_selective_index_is_walked_and_a_rare_range_or_a_count_is_materialised() -> None:
    driver = KEYS.type_index("T")
    common = {"x": RangeStats(in_range=20_000, others=0, having=100_000)}
    walk = plan_walk(KEYS, PLAN, driver, 100_000, common, wanted=20, count=False)
    assert walk == Walk(
        driver, (RangeCheck(KEYS.numbers("x"), None, 10.0, math.inf),), (KEYS.attr_index("y"),), 200
    )
    # Counting walks all 100,000 ids: intersecting the 20,000 in range is cheaper.
    assert plan_walk(KEYS, PLAN, driver, 100_000, common, wanted=20, count=True) is None
    rare = {"x": RangeStats(in_range=5, others=0, having=100_000)}
    assert plan_walk(KEYS, PLAN, driver, 100_000, rare, wanted=20, count=False) is None
    empty = {"x": RangeStats(in_range=0, others=0, having=100_000)}
    assert plan_walk(KEYS, PLAN, driver, 100_000, empty, wanted=20, count=False) is None
    small = {"x": RangeStats(in_range=3, others=1, having=500)}
    counted = plan_walk(KEYS, PLAN, driver, 500, small, wanted=20, count=True)
    assert counted is not None and counted.ranges[0].others == KEYS.numbers_other("x")


def test_a_chunk_keeps_ids_in_range_or_not_plain_numbers_and_present_in_every_member_index() -> None:
    walk = Walk(
        "d",
        (RangeCheck("n", "o", 10.0, 20.0),),
        ("m",),
        200,
    )
    scores = [10.0, 20.0, 9.99, None, 15.0, None]
    others = [None, None, None, 0.0, None, None]
    member = [0.0, 0.0, 0.0, 0.0, None, 0.0]
    assert _passing(walk, 6, [scores, others, member]) == [True, True, False, True, False, False]
