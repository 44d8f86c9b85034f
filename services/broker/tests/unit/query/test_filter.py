"""EntityFilter: every selector combined, the selector rule, and the index plan for the store."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.query import EntityFilter, GeoBox, GeoCircle, IndexPlan, parse_geo_query
from cityos_runtime.problems import ProblemError

CORE = "https://uri.etsi.org/ngsi-ld/"
D = CORE + "default-context/"
SAPPORO = [141.3545, 43.0618]


def gauge(
    entity_id: str = "urn:ngsi-ld:WaterLevelGauge:toyohira-01", level: float = 3.2, **extra: Any
) -> dict[str, Any]:
    ent: dict[str, Any] = {
        "id": entity_id,
        "type": [D + "WaterLevelGauge"],
        "scope": ["/Hokkaido/Sapporo"],
        "attrs": {
            D + "waterLevel": [{"type": "Property", "value": level, "unitCode": "MTR"}],
            CORE + "location": [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": SAPPORO}}],
        },
    }
    ent.update(extra)
    return ent


def build(expand: Any, **kwargs: Any) -> EntityFilter:
    return EntityFilter.build(expand=expand, **kwargs)


def test_type_selects(expand: Any) -> None:
    assert build(expand, type_expression="WaterLevelGauge").matches(gauge())
    assert not build(expand, type_expression="Bus").matches(gauge())


def test_ids_select(expand: Any) -> None:
    flt = build(expand, ids=["urn:ngsi-ld:WaterLevelGauge:toyohira-01", "urn:ngsi-ld:X:2"])
    assert flt.matches(gauge())
    assert not flt.matches(gauge("urn:ngsi-ld:WaterLevelGauge:other"))


def test_id_pattern_must_match_the_whole_id(expand: Any) -> None:
    assert build(expand, id_pattern="urn:ngsi-ld:WaterLevelGauge:.*").matches(gauge())
    assert not build(expand, id_pattern="toyohira").matches(gauge())
    assert build(expand, id_pattern=".*toyohira.*").matches(gauge())


def test_attrs_need_at_least_one(expand: Any) -> None:
    assert build(expand, attrs=["flow", "waterLevel"]).matches(gauge())
    assert not build(expand, attrs=["flow"]).matches(gauge())


def test_q_and_scope_and_geo_combine(expand: Any) -> None:
    near = parse_geo_query("near;maxDistance==1000", "Point", SAPPORO, "", expand)
    flt = build(expand, type_expression="WaterLevelGauge", q="waterLevel>3", scope_q="/Hokkaido/#", geo=near)
    assert flt.matches(gauge())
    assert not flt.matches(gauge(level=2.0))
    assert not flt.matches(gauge(scope=["/Aomori"]))
    far = parse_geo_query("near;maxDistance==1000", "Point", [140.0, 42.0], "", expand)
    assert not build(expand, q="waterLevel>3", geo=far).matches(gauge())


def test_scope_query_on_entity_without_scope(expand: Any) -> None:
    ent = gauge()
    del ent["scope"]
    assert not build(expand, type_expression="WaterLevelGauge", scope_q="/#").matches(ent)


def test_csf_is_validated_but_never_filters_entities(expand: Any) -> None:
    flt = build(expand, type_expression="WaterLevelGauge", csf='provider=="nobody"')
    assert flt.csf is not None
    assert flt.matches(gauge())
    with pytest.raises(ProblemError):
        build(expand, type_expression="WaterLevelGauge", csf="provider==")


def test_query_without_selector_is_rejected(expand: Any) -> None:
    with pytest.raises(ProblemError) as caught:
        build(expand)
    assert caught.value.kind == "BadRequestData"
    assert "at least one of" in caught.value.detail
    with pytest.raises(ProblemError):
        build(expand, scope_q="/Hokkaido")


def test_local_query_may_list_every_entity(expand: Any) -> None:
    flt = build(expand, require_selector=False)
    assert flt.matches(gauge())
    assert flt.plan() == IndexPlan()


@pytest.mark.parametrize("bad", ["not a uri", "", "urn:x:a b"])
def test_invalid_ids_are_rejected(bad: str, expand: Any) -> None:
    with pytest.raises(ProblemError) as caught:
        build(expand, ids=[bad])
    assert caught.value.kind == "BadRequestData"


def test_invalid_id_pattern_is_rejected(expand: Any) -> None:
    with pytest.raises(ProblemError) as caught:
        build(expand, id_pattern="urn:(")
    assert "idPattern" in caught.value.detail


def test_selector_errors_propagate(expand: Any) -> None:
    for kwargs in ({"type_expression": "A|"}, {"q": "a=="}, {"type_expression": "A", "scope_q": "x"}):
        with pytest.raises(ProblemError):
            build(expand, **kwargs)


def test_plan_lists_what_narrows(expand: Any) -> None:
    near = parse_geo_query("near;maxDistance==500", "Point", SAPPORO, "", expand)
    plan = build(
        expand,
        ids=["urn:b:2", "urn:a:1"],
        type_expression="(WaterLevelGauge;Sensor)|RainGauge",
        attrs=["waterLevel", "flow"],
        q='waterLevel>=3;waterLevel<=5;status=="ok"',
        geo=near,
    ).plan()
    assert plan.ids == ("urn:a:1", "urn:b:2")
    assert plan.type_dnf == (frozenset({D + "RainGauge"}), frozenset({D + "WaterLevelGauge", D + "Sensor"}))
    assert plan.required_attrs == {D + "waterLevel", D + "status", CORE + "location"}
    assert plan.any_attrs == {D + "waterLevel", D + "flow"}
    assert plan.numeric_ranges == {D + "waterLevel": (3, 5)}
    assert plan.geo_property == CORE + "location"
    assert isinstance(plan.geo_area, GeoCircle)
    assert not plan.geo_area_all_shapes


def test_plan_within_box_covers_all_shapes(expand: Any) -> None:
    box = [[[141.2, 42.9], [141.5, 42.9], [141.5, 43.2], [141.2, 43.2], [141.2, 42.9]]]
    plan = build(expand, geo=parse_geo_query("within", "Polygon", box, "", expand)).plan()
    assert plan.geo_area == GeoBox(141.2, 42.9, 141.5, 43.2)
    assert plan.geo_area_all_shapes
    assert plan.type_dnf is None and plan.ids is None


def test_plan_of_or_query_requires_nothing(expand: Any) -> None:
    assert build(expand, q="a==1|b==2").plan().required_attrs == frozenset()


def test_id_pattern_with_future_warning_construct(expand: Any) -> None:
    assert build(expand, id_pattern="urn:x:[[a]").matches(gauge("urn:x:a"))


@pytest.mark.parametrize(
    ("q", "low", "high", "low_open", "high_open"),
    [
        ("waterLevel>2", 2.0, None, True, False),
        ("waterLevel>=2", 2.0, None, False, False),
        ("waterLevel<2.5", None, 2.5, False, True),
        ("waterLevel<=-1", None, -1.0, False, False),
        ("waterLevel==3", 3.0, 3.0, False, False),
        ("waterLevel==1..4", 1.0, 4.0, False, False),
    ],
)
def test_count_plan_of_one_numeric_term(
    expand: Any, q: str, low: float | None, high: float | None, low_open: bool, high_open: bool
) -> None:
    plan = build(expand, type_expression="WaterLevelGauge", q=q).count_plan()
    assert plan is not None
    assert plan.type_iri == D + "WaterLevelGauge"
    exact = plan.range
    assert (exact.attribute, exact.low, exact.high) == (D + "waterLevel", low, high)
    assert (exact.low_open, exact.high_open) == (low_open, high_open)
    assert build(expand, q=q).count_plan() is not None  # no type: the whole numbers index


@pytest.mark.parametrize(
    "selectors",
    [
        {"q": "waterLevel!=2"},
        {"q": "waterLevel==1,2"},
        {"q": "waterLevel>1;waterLevel<3"},
        {"q": "waterLevel>1|riverName==1"},
        {"q": "waterLevel.observedAt>1"},
        {"q": 'riverName=="Toyohira"'},
        {"q": "waterLevel>9007199254740993"},  # beyond exact double scores
        {"q": "waterLevel>1", "type_expression": "WaterLevelGauge,Bus"},
        {"q": "waterLevel>1", "attrs": ["riverName"]},
        {"q": "waterLevel>1", "id_pattern": "urn:.*"},
        {"q": "waterLevel>1", "scope_q": "/Hokkaido"},
        {"type_expression": "WaterLevelGauge"},
    ],
)
def test_no_count_plan_when_more_than_one_range_decides(expand: Any, selectors: dict[str, Any]) -> None:
    assert build(expand, **selectors).count_plan() is None
