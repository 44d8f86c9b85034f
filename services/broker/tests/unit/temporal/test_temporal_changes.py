"""Change events to history writes, and temporal representations."""

from __future__ import annotations

from typing import Any

import orjson
from cityos_broker.ngsild.render import RenderOptions
from cityos_broker.ngsild.terms import core_term_map
from cityos_broker.temporal.changes import INSTANCE_PREFIX, from_change, latest_state, sequence
from cityos_broker.temporal.params import parse_temporal_query
from cityos_broker.temporal.reader import Cut
from cityos_broker.temporal.render import render_temporal
from cityos_broker.temporal.timeutil import to_ms

SPEED = "https://uri.etsi.org/ngsi-ld/default-context/speed"
NAME = "https://uri.etsi.org/ngsi-ld/default-context/name"
CAR = "https://uri.etsi.org/ngsi-ld/default-context/Car"


def _entity(speed: float, modified: str, **extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        SPEED: [
            {"type": "Property", "value": speed, "createdAt": "2026-11-22T00:00:00Z", "modifiedAt": modified}
        ],
        NAME: [{"type": "Property", "value": "car", "modifiedAt": "2026-11-22T00:00:00Z"}],
    }
    attrs.update(extra)
    return {"id": "urn:ngsi-ld:Car:1", "type": [CAR], "attrs": attrs}


def test_only_new_or_changed_instances_are_recorded() -> None:
    before = _entity(10, "2026-11-22T00:00:00Z")
    after = _entity(12, "2026-11-22T00:01:00Z")
    write = from_change("1763769660000-0", "urn:ngsi-ld:Car:1", "2026-11-22T00:01:00Z", before, after)
    [(iri, ms, instance)] = write.instances
    assert iri == SPEED and ms == to_ms("2026-11-22T00:01:00Z")
    assert instance["value"] == 12 and instance["instanceId"].startswith(INSTANCE_PREFIX)
    assert write.types == [CAR]
    assert orjson.loads(write.fields["a:" + SPEED])[0]["value"] == 12
    assert write.seq == sequence("1763769660000-0") == "001763769660000-0000000000"


def test_a_replayed_event_yields_the_same_instance_ids() -> None:
    args = ("1-0", "urn:ngsi-ld:Car:1", "2026-11-22T00:01:00Z", None, _entity(1, "2026-11-22T00:01:00Z"))
    assert from_change(*args).instances == from_change(*args).instances
    other = from_change("2-0", *args[1:])
    assert other.instances[0][2]["instanceId"] != from_change(*args).instances[0][2]["instanceId"]


def test_observed_at_places_the_instance_and_removed_attributes_clear_the_state() -> None:
    before = _entity(1, "2026-11-22T00:00:00Z")
    after = _entity(1, "2026-11-22T00:00:00Z")
    del after["attrs"][NAME]
    after["attrs"][SPEED][0] = {**after["attrs"][SPEED][0], "observedAt": "2026-11-21T23:00:00Z"}
    write = from_change("5-1", "urn:ngsi-ld:Car:1", "2026-11-22T00:02:00Z", before, after)
    assert [ms for _, ms, _ in write.instances] == [to_ms("2026-11-21T23:00:00Z")]
    assert write.fields["a:" + NAME] == ""


def test_entity_deletion_records_nothing() -> None:
    write = from_change("5-1", "urn:ngsi-ld:Car:1", "2026-11-22T00:02:00Z", _entity(1, "x"), None)
    assert write.empty


def test_latest_state_rebuilds_the_stored_form() -> None:
    fields = {"type": orjson.dumps([CAR]).decode(), "q:type": "1", "a:" + SPEED: "[]", "scope": '["/a"]'}
    assert latest_state("urn:x:1", fields) == {
        "id": "urn:x:1",
        "type": [CAR],
        "scope": ["/a"],
        "attrs": {SPEED: []},
    }


def _points() -> dict[str, list[tuple[float, dict[str, Any]]]]:
    times = ["2026-11-22T00:00:00Z", "2026-11-22T00:30:00Z", "2026-11-22T01:10:00Z"]
    return {
        SPEED: [
            (to_ms(t), {"type": "Property", "value": v, "observedAt": t, "instanceId": f"urn:i:{i}"})
            for i, (t, v) in enumerate(zip(times, [10, 20, 40], strict=True))
        ]
    }


def test_normalized_temporal_representation() -> None:
    state = {"id": "urn:ngsi-ld:Car:1", "type": [CAR], "attrs": {}}
    out = render_temporal(state, _points(), core_term_map(), RenderOptions(), parse_temporal_query({}))
    assert out["id"] == "urn:ngsi-ld:Car:1" and out["type"] == "Car"
    assert [(i["value"], i["instanceId"]) for i in out["speed"]] == [
        (10, "urn:i:0"),
        (20, "urn:i:1"),
        (40, "urn:i:2"),
    ]
    assert out["speed"][0]["type"] == "Property"


def test_temporal_values_and_aggregated_values() -> None:
    state = {"id": "urn:ngsi-ld:Car:1", "type": [CAR], "attrs": {}}
    simplified = render_temporal(
        state,
        _points(),
        core_term_map(),
        RenderOptions(),
        parse_temporal_query({"options": "temporalValues"}),
    )
    assert simplified["speed"] == {
        "type": "Property",
        "values": [[10, "2026-11-22T00:00:00Z"], [20, "2026-11-22T00:30:00Z"], [40, "2026-11-22T01:10:00Z"]],
    }
    query = parse_temporal_query(
        {
            "aggrMethods": "avg,totalCount",
            "aggrPeriodDuration": "PT1H",
            "timerel": "after",
            "timeAt": "2026-11-21T23:00:00Z",
        }
    )
    aggregated = render_temporal(state, _points(), core_term_map(), RenderOptions(), query)
    assert aggregated["speed"]["avg"] == [
        [15.0, "2026-11-22T00:00:00.000Z", "2026-11-22T01:00:00.000Z"],
        [40.0, "2026-11-22T01:00:00.000Z", "2026-11-22T02:00:00.000Z"],
    ]
    assert [row[0] for row in aggregated["speed"]["totalCount"]] == [2, 1]


def test_content_range_only_when_cut() -> None:
    cut = Cut()
    cut.include(to_ms("2026-11-22T00:00:00Z"), to_ms("2026-11-22T01:00:00Z"))
    assert cut.content_range() == ""
    cut.cut, cut.size = True, "2"
    assert cut.content_range() == "DateTime 2026-11-22T00:00:00.000Z-2026-11-22T01:00:00.000Z/2"
