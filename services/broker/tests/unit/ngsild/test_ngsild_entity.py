"""Entity parsing: normalized and concise input of every attribute kind into the stored form."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.entity import (
    NGSILD_NULL,
    is_null_instance,
    parse_attribute,
    parse_entity,
    parse_fragment,
    validate_entity_id,
)
from cityos_runtime.problems import ProblemError

NOW = "2026-11-22T03:00:00.000000Z"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSILD = "https://uri.etsi.org/ngsi-ld/"
ID = "urn:ngsi-ld:WaterLevelGauge:toyohira-01"


def _entity(**attrs: Any) -> dict[str, Any]:
    return {"id": ID, "type": "WaterLevelGauge", **attrs}


def _one(entity: dict[str, Any], name: str) -> dict[str, Any]:
    [instance] = entity["attrs"][DEFAULT + name]
    return instance


def _bad(doc: Any, terms: TermMap) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_entity(doc, terms, NOW)
    assert caught.value.kind == "BadRequestData"
    assert caught.value.status == 400
    return caught.value


def test_normalized_entity_becomes_the_stored_form(user: TermMap) -> None:
    doc = {
        "id": ID,
        "type": "WaterLevelGauge",
        "scope": "/Hokkaido/Sapporo",
        "waterLevel": {
            "type": "Property",
            "value": 3.2,
            "unitCode": "MTR",
            "observedAt": "2026-11-22T03:04:00Z",
        },
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.35, 43.06]}},
    }
    stored = parse_entity(doc, user, NOW)
    assert stored["type"] == ["https://smartdatamodels.org/dataModel.Environment/WaterLevelGauge"]
    assert stored["scope"] == ["/Hokkaido/Sapporo"]
    assert stored["createdAt"] == stored["modifiedAt"] == NOW
    [level] = stored["attrs"]["https://smartdatamodels.org/dataModel.Environment/waterLevel"]
    assert level == {
        "type": "Property",
        "value": 3.2,
        "unitCode": "MTR",
        "observedAt": "2026-11-22T03:04:00Z",
        "createdAt": NOW,
        "modifiedAt": NOW,
    }
    [location] = stored["attrs"][NGSILD + "location"]
    assert location["type"] == "GeoProperty"


def test_concise_bare_value_is_a_property(core: TermMap) -> None:
    stored = parse_entity(_entity(temperature=21.5, tags=["a", "b"]), core, NOW)
    assert _one(stored, "temperature")["value"] == 21.5
    assert _one(stored, "tags") == {
        "type": "Property",
        "value": ["a", "b"],
        "createdAt": NOW,
        "modifiedAt": NOW,
    }


def test_concise_object_without_members_is_a_compound_property_value(core: TermMap) -> None:
    stored = parse_entity(_entity(address={"street": "Kita 1", "city": "Sapporo"}), core, NOW)
    assert _one(stored, "address")["value"] == {"street": "Kita 1", "city": "Sapporo"}


def test_concise_object_member_is_a_relationship(core: TermMap) -> None:
    stored = parse_entity(
        _entity(owner={"object": "urn:ngsi-ld:City:sapporo", "objectType": "City"}), core, NOW
    )
    owner = _one(stored, "owner")
    assert owner["type"] == "Relationship"
    assert owner["object"] == "urn:ngsi-ld:City:sapporo"
    assert owner["objectType"] == DEFAULT + "City"


def test_concise_language_map_is_a_language_property(core: TermMap) -> None:
    stored = parse_entity(_entity(name={"languageMap": {"ja": "豊平川", "en": "Toyohira River"}}), core, NOW)
    assert _one(stored, "name")["type"] == "LanguageProperty"
    assert _one(stored, "name")["languageMap"]["ja"] == "豊平川"


def test_concise_vocab_is_an_expanded_vocab_property(user: TermMap) -> None:
    stored = parse_entity(_entity(category={"vocab": ["residential", "shop"]}), user, NOW)
    [category] = stored["attrs"]["https://uri.fiware.org/ns/data-models#category"]
    assert category["type"] == "VocabProperty"
    assert category["vocab"] == ["https://uri.fiware.org/ns/data-models#residential", DEFAULT + "shop"]


def test_concise_value_list_is_a_list_property(core: TermMap) -> None:
    stored = parse_entity(_entity(readings={"valueList": [1, 2, 3]}), core, NOW)
    assert _one(stored, "readings")["type"] == "ListProperty"
    assert _one(stored, "readings")["valueList"] == [1, 2, 3]


def test_object_list_accepts_uris_and_relationship_objects(core: TermMap) -> None:
    doc = _entity(gauges={"objectList": ["urn:ngsi-ld:G:1", {"object": "urn:ngsi-ld:G:2"}]})
    gauges = _one(parse_entity(doc, core, NOW), "gauges")
    assert gauges["type"] == "ListRelationship"
    assert gauges["objectList"] == ["urn:ngsi-ld:G:1", "urn:ngsi-ld:G:2"]


def test_concise_json_is_a_json_property(core: TermMap) -> None:
    stored = parse_entity(_entity(raw={"json": {"anything": [1, {"@id": "not expanded"}]}}), core, NOW)
    assert _one(stored, "raw") == {
        "type": "JsonProperty",
        "json": {"anything": [1, {"@id": "not expanded"}]},
        "createdAt": NOW,
        "modifiedAt": NOW,
    }


def test_concise_geometry_on_location_is_a_geo_property(core: TermMap) -> None:
    stored = parse_entity(_entity(location={"type": "Point", "coordinates": [141.35, 43.06]}), core, NOW)
    [location] = stored["attrs"][NGSILD + "location"]
    assert location["type"] == "GeoProperty"
    assert location["value"] == {"type": "Point", "coordinates": [141.35, 43.06]}


def test_concise_geometry_on_any_attribute_is_a_geo_property(core: TermMap) -> None:
    area = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    stored = parse_entity(
        _entity(area=area, spot={"value": {"type": "Point", "coordinates": [1, 2]}}), core, NOW
    )
    assert _one(stored, "area")["type"] == "GeoProperty"
    assert _one(stored, "spot")["type"] == "GeoProperty"


def test_concise_sub_attributes_are_parsed_recursively(core: TermMap) -> None:
    doc = _entity(
        level={"value": 3.2, "quality": {"value": "good", "checkedBy": {"object": "urn:ngsi-ld:P:1"}}}
    )
    level = _one(parse_entity(doc, core, NOW), "level")
    quality = level["attrs"][DEFAULT + "quality"]
    assert quality["value"] == "good"
    assert quality["createdAt"] == NOW
    assert quality["attrs"][DEFAULT + "checkedBy"]["type"] == "Relationship"


def test_multi_instance_attribute_keeps_every_dataset(core: TermMap) -> None:
    doc = _entity(
        level=[{"value": 1.0}, {"type": "Property", "value": 2.0, "datasetId": "urn:ngsi-ld:Dataset:b"}]
    )
    instances = parse_entity(doc, core, NOW)["attrs"][DEFAULT + "level"]
    assert [i.get("datasetId") for i in instances] == [None, "urn:ngsi-ld:Dataset:b"]


def test_duplicate_dataset_ids_are_bad_request_data(core: TermMap) -> None:
    doc = _entity(level=[{"value": 1, "datasetId": "urn:ds:a"}, {"value": 2, "datasetId": "urn:ds:a"}])
    assert "datasetId" in _bad(doc, core).detail


def test_two_default_instances_are_bad_request_data(core: TermMap) -> None:
    _bad(_entity(level=[{"value": 1}, {"value": 2}]), core)


def test_client_timestamps_are_ignored(core: TermMap) -> None:
    doc = _entity(createdAt="1999-01-01T00:00:00Z", level={"value": 1, "modifiedAt": "1999-01-01T00:00:00Z"})
    stored = parse_entity(doc, core, NOW)
    assert stored["createdAt"] == NOW
    assert _one(stored, "level")["modifiedAt"] == NOW


@pytest.mark.parametrize("bad_id", ["toyohira-01", "", "urn:has space", 42, None, "http://a/<b>"])
def test_entity_id_must_be_an_absolute_uri(core: TermMap, bad_id: Any) -> None:
    _bad({"id": bad_id, "type": "T"}, core)


def test_valid_ids_are_accepted() -> None:
    assert validate_entity_id("urn:ngsi-ld:Road:1") == "urn:ngsi-ld:Road:1"
    assert validate_entity_id("https://city.example/roads/1") == "https://city.example/roads/1"


def test_missing_type_is_bad_request_data(core: TermMap) -> None:
    _bad({"id": ID}, core)


def test_empty_type_list_is_bad_request_data(core: TermMap) -> None:
    _bad({"id": ID, "type": []}, core)


def test_several_types_are_expanded(user: TermMap) -> None:
    stored = parse_entity({"id": ID, "type": ["Building", "Shop"]}, user, NOW)
    assert stored["type"] == ["https://uri.fiware.org/ns/data-models#Building", DEFAULT + "Shop"]


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [200, 10]},
        {"type": "Point", "coordinates": [10, -91]},
        {"type": "Point", "coordinates": [10]},
        {"type": "Point", "coordinates": ["10", "20"]},
        {"type": "LineString", "coordinates": [[0, 0]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        {"type": "MultiPoint", "coordinates": "nope"},
        {"type": "Circle", "coordinates": [0, 0]},
    ],
)
def test_bad_geojson_is_bad_request_data(core: TermMap, geometry: dict[str, Any]) -> None:
    _bad(_entity(location={"type": "GeoProperty", "value": geometry}), core)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
        {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]},
        {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]},
        {"type": "Point", "coordinates": [141.35, 43.06, 12.5]},
    ],
)
def test_valid_geojson_geometries_are_accepted(core: TermMap, geometry: dict[str, Any]) -> None:
    stored = parse_entity(_entity(location={"type": "GeoProperty", "value": geometry}), core, NOW)
    assert stored["attrs"][NGSILD + "location"][0]["value"] == geometry


@pytest.mark.parametrize(
    "attrs",
    [
        {"level": {"type": "Property", "value": 1, "datasetId": "not a uri"}},
        {"level": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
        {"level": {"type": "Property", "value": 1, "unitCode": 5}},
        {"level": {"type": "Property"}},
        {"level": {"type": "Banana", "value": 1}},
        {"level": None},
        {"level": {"type": "Relationship", "object": "not-a-uri"}},
        {"name": {"languageMap": {"not a tag": "x"}}},
        {"name": {"languageMap": {"en": 5}}},
        {"list": {"valueList": "not a list"}},
        {"bad name": 1},
        {"bad<name": 1},
        {"level": {"value": 1, "quality": {"value": None}}},
        {"level": {"type": "Property", "value": NGSILD_NULL}},
    ],
)
def test_invalid_attributes_are_bad_request_data(core: TermMap, attrs: dict[str, Any]) -> None:
    _bad(_entity(**attrs), core)


@pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace"])
def test_core_geo_attributes_must_be_geo_properties(core: TermMap, name: str) -> None:
    _bad(_entity(**{name: "Sapporo"}), core)
    _bad(_entity(**{name: {"type": "Property", "value": {"type": "Point", "coordinates": [1, 2]}}}), core)


def test_attribute_name_that_expands_to_a_keyword_is_rejected(core: TermMap) -> None:
    with pytest.raises(ProblemError):
        parse_fragment({"@id": ID, "@type": "T", "@graph": 1}, core, NOW)


def test_invalid_scope_is_bad_request_data(core: TermMap) -> None:
    _bad(_entity(scope="Hokkaido"), core)
    _bad(_entity(scope=["/a/#"]), core)


def test_fragment_returns_id_and_type_separately(core: TermMap) -> None:
    fragment = parse_fragment({"id": ID, "type": "T", "level": 2}, core, NOW)
    assert fragment.entity_id == ID
    assert fragment.types == [DEFAULT + "T"]
    assert list(fragment.attrs) == [DEFAULT + "level"]


def test_fragment_with_null_marks_deletions_only_when_allowed(core: TermMap) -> None:
    fragment = parse_fragment(
        {"level": NGSILD_NULL, "other": {"value": 1, "sub": None}}, core, NOW, allow_null=True
    )
    assert is_null_instance(fragment.attrs[DEFAULT + "level"][0])
    assert is_null_instance(fragment.attrs[DEFAULT + "other"][0]["attrs"][DEFAULT + "sub"])
    with pytest.raises(ProblemError):
        parse_fragment({"level": NGSILD_NULL}, core, NOW)


def test_language_property_null_marker(core: TermMap) -> None:
    fragment = parse_fragment({"name": {"languageMap": {"@none": NGSILD_NULL}}}, core, NOW, allow_null=True)
    assert is_null_instance(fragment.attrs[DEFAULT + "name"][0])


def test_parse_attribute_expands_the_name(user: TermMap) -> None:
    iri, [instance] = parse_attribute("waterLevel", {"value": 4.0}, user, NOW)
    assert iri == "https://smartdatamodels.org/dataModel.Environment/waterLevel"
    assert instance["value"] == 4.0


def test_partial_attribute_may_carry_only_metadata(core: TermMap) -> None:
    _, [instance] = parse_attribute("level", {"observedAt": "2026-11-22T03:00:00Z"}, core, NOW, partial=True)
    assert "type" not in instance
    assert instance["observedAt"] == "2026-11-22T03:00:00Z"


def test_null_attribute_body_is_invalid_request(core: TermMap) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_attribute("level", NGSILD_NULL, core, NOW)
    assert caught.value.kind == "InvalidRequest"


@pytest.mark.parametrize("name", ["id", "type", "@context"])
def test_reserved_attribute_names_are_rejected(core: TermMap, name: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_attribute(name, {"value": 1}, core, NOW)
    assert caught.value.kind == "BadRequestData"


def test_expanded_type_iri_is_accepted_as_attribute_kind(core: TermMap) -> None:
    stored = parse_entity(_entity(level={"type": NGSILD + "Property", "value": 1}), core, NOW)
    assert _one(stored, "level")["type"] == "Property"
