"""How an IndexPlan becomes Redis set operations (recorded on a fake pipeline, no sockets)."""

from __future__ import annotations

from typing import Any

from cityos_broker.query.filter import IndexPlan
from cityos_broker.query.geo import GeoCircle
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.querying import CandidateSet

KEYS = TenantKeys("city")


class RecordingPipeline:
    """Stands in for a redis-py pipeline: records the commands queued."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    def pexpire(self, key: str, ms: int) -> None:
        self.commands.append(("PEXPIRE", key, ms))


def _build(
    plan: IndexPlan, no_others: frozenset[str] = frozenset()
) -> tuple[str, list[tuple[Any, ...]], CandidateSet]:
    pipe = RecordingPipeline()
    candidates = CandidateSet(KEYS, no_others=no_others)
    source = candidates.build(pipe, plan)  # type: ignore[arg-type]
    return source, [c for c in pipe.commands if c[0] != "PEXPIRE"], candidates


def test_no_plan_walks_every_id_and_one_index_is_used_without_a_copy() -> None:
    source, commands, _ = _build(IndexPlan())
    assert (source, commands) == (KEYS.ids, [])
    source, commands, candidates = _build(IndexPlan(type_dnf=(frozenset({"T"}),)))
    assert source == KEYS.type_index("T")
    assert commands == [] and candidates.temps == []


def test_type_dnf_intersects_each_conjunction_and_unites_them_with_zero_weights() -> None:
    plan = IndexPlan(type_dnf=(frozenset({"A", "B"}), frozenset({"C"})))
    source, commands, candidates = _build(plan)
    inter, union = commands
    assert inter[0] == "ZINTERSTORE" and inter[2:5] == (2, KEYS.type_index("A"), KEYS.type_index("B"))
    assert inter[-3:] == ("WEIGHTS", 0, 0)
    assert union[0] == "ZUNIONSTORE" and union[3:5] == (inter[1], KEYS.type_index("C"))
    assert union[-2:] == (0, 0)
    assert source == union[1]
    assert all(key.startswith("{t:city}:tmp:") for key in candidates.temps)


def test_attributes_numbers_and_geo_are_intersected_and_keep_their_escape_sets() -> None:
    plan = IndexPlan(
        type_dnf=(frozenset({"A"}),),
        required_attrs=frozenset({"x"}),
        numeric_ranges={"x": (10.0, None)},
        geo_property="loc",
        geo_area=GeoCircle(1.0, 2.0, 500.0),
    )
    source, commands, _ = _build(plan)
    names = [c[0] for c in commands]
    assert names == ["ZRANGESTORE", "ZUNIONSTORE", "GEOSEARCHSTORE", "ZUNIONSTORE", "ZINTERSTORE"]
    ranged = commands[0]
    assert ranged[2:6] == (KEYS.numbers("x"), "10.0", "+inf", "BYSCORE")
    assert KEYS.numbers_other("x") in commands[1]
    geo_union = commands[3]
    assert KEYS.geo_unplaced("loc") in geo_union and KEYS.geo_shapes("loc") in geo_union
    final = commands[4]
    assert source == final[1]
    assert KEYS.type_index("A") in final
    # The numbers index only holds entities having `x`: its presence index would be redundant.
    assert KEYS.attr_index("x") not in final
    assert final[-4:] == ("WEIGHTS", 0, 0, 0)


def test_a_range_without_non_numeric_values_is_not_copied_into_a_union() -> None:
    plan = IndexPlan(
        type_dnf=(frozenset({"A"}),), required_attrs=frozenset({"x", "y"}), numeric_ranges={"x": (1.0, 2.0)}
    )
    source, commands, _ = _build(plan, no_others=frozenset({"x"}))
    assert [c[0] for c in commands] == ["ZRANGESTORE", "ZINTERSTORE"]
    ranged, final = commands
    assert ranged[2:6] == (KEYS.numbers("x"), "1.0", "2.0", "BYSCORE")
    assert final[2:6] == (3, KEYS.type_index("A"), KEYS.attr_index("y"), ranged[1])
    assert final[-4:] == ("WEIGHTS", 0, 0, 0) and source == final[1]


def test_a_lone_range_is_still_zeroed_for_lexical_paging() -> None:
    source, commands, _ = _build(IndexPlan(numeric_ranges={"x": (None, 5.0)}), no_others=frozenset({"x"}))
    ranged, zeroed = commands
    assert ranged[3:5] == ("-inf", "5.0")
    assert zeroed == ("ZINTERSTORE", source, 1, ranged[1], "WEIGHTS", 0)


def test_within_queries_skip_the_shapes_set_and_impossible_types_select_nothing() -> None:
    plan = IndexPlan(geo_property="loc", geo_area=GeoCircle(1.0, 2.0, 5.0), geo_area_all_shapes=True)
    _, commands, _ = _build(plan)
    assert KEYS.geo_shapes("loc") not in commands[1]
    source, commands, candidates = _build(IndexPlan(type_dnf=()))
    assert commands == [] and source in candidates.temps  # a key never written: empty


def test_an_empty_conjunction_does_not_narrow_by_type() -> None:
    source, commands, _ = _build(IndexPlan(type_dnf=(frozenset({"A"}), frozenset())))
    assert (source, commands) == (KEYS.ids, [])
