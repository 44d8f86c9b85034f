"""Rendering: normalized, concise, keyValues, GeoJSON, lang, sysAttrs and projections."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, TermMap
from cityos_broker.ngsild.entity import parse_entity
from cityos_broker.ngsild.render import (
    RenderOptions,
    expand_names,
    render_entities,
    render_entity,
    render_geojson,
    with_context,
)

NOW = "2026-11-22T03:00:00.000000Z"
ID = "urn:ngsi-ld:Gauge:1"
POINT = {"type": "Point", "coordinates": [141.35, 43.06]}
DOC: dict[str, Any] = {
    "id": ID,
    "type": "WaterLevelGauge",
    "scope": "/Hokkaido",
    "waterLevel": {
        "type": "Property",
        "value": 3.2,
        "unitCode": "MTR",
        "quality": {"type": "Property", "value": "ok"},
    },
    "location": {"type": "GeoProperty", "value": POINT},
    "river": {"type": "Relationship", "object": "urn:ngsi-ld:River:toyohira", "objectType": "River"},
    "name": {
        "type": "LanguageProperty",
        "languageMap": {"ja": "豊平川", "en": "Toyohira", "@none": "Toyohira"},
    },
    "category": {"type": "VocabProperty", "vocab": "residential"},
    "readings": {"type": "ListProperty", "valueList": [1, 2]},
    "neighbours": {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Gauge:2"]},
    "raw": {"type": "JsonProperty", "json": {"a": 1}},
    "address": {"type": "Property", "value": {"city": "Sapporo"}},
    "area": {"type": "Property", "value": {"type": "Point", "coordinates": [1, 2]}},
}


@pytest.fixture
def stored(user: TermMap) -> dict[str, Any]:
    return parse_entity(DOC, user, NOW)


def test_normalized_round_trips_the_request(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions())
    assert out["type"] == "WaterLevelGauge"
    assert out["scope"] == "/Hokkaido"
    assert out["waterLevel"] == {
        "type": "Property",
        "value": 3.2,
        "unitCode": "MTR",
        "quality": {"type": "Property", "value": "ok"},
    }
    assert out["river"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:River:toyohira",
        "objectType": "River",
    }
    assert out["category"] == {"type": "VocabProperty", "vocab": "residential"}
    assert out["neighbours"] == {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:Gauge:2"}],
    }
    assert "createdAt" not in out and "createdAt" not in out["waterLevel"]


def test_normalized_output_parses_back_to_the_same_stored_form(stored: dict[str, Any], user: TermMap) -> None:
    again = parse_entity(render_entity(stored, user, RenderOptions()), user, NOW)
    assert again == stored


def test_concise_output_parses_back_to_the_same_stored_form(stored: dict[str, Any], user: TermMap) -> None:
    again = parse_entity(render_entity(stored, user, RenderOptions(format="concise")), user, NOW)
    assert again == stored


def test_concise_drops_type_where_unambiguous(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions(format="concise"))
    assert out["waterLevel"] == {"value": 3.2, "unitCode": "MTR", "quality": "ok"}
    assert out["location"] == POINT
    assert out["river"] == {"object": "urn:ngsi-ld:River:toyohira", "objectType": "River"}
    assert out["name"] == {"languageMap": {"ja": "豊平川", "en": "Toyohira", "@none": "Toyohira"}}
    assert out["readings"] == {"valueList": [1, 2]}
    assert out["neighbours"] == {"objectList": ["urn:ngsi-ld:Gauge:2"]}
    assert out["address"] == {"value": {"city": "Sapporo"}}
    # A Property whose value looks like a geometry keeps its type, or readers would see a GeoProperty.
    assert out["area"] == {"type": "Property", "value": {"type": "Point", "coordinates": [1, 2]}}


def test_key_values_gives_plain_values(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions(format="keyValues"))
    assert out["waterLevel"] == 3.2
    assert out["location"] == POINT
    assert out["river"] == "urn:ngsi-ld:River:toyohira"
    assert out["name"] == {"languageMap": {"ja": "豊平川", "en": "Toyohira", "@none": "Toyohira"}}
    assert out["category"] == {"vocab": "residential"}
    assert out["raw"] == {"json": {"a": 1}}


def test_key_values_of_a_multi_instance_attribute_is_a_dataset_map(core: TermMap) -> None:
    doc = {"id": ID, "type": "T", "level": [{"value": 1}, {"value": 2, "datasetId": "urn:ds:b"}]}
    out = render_entity(parse_entity(doc, core, NOW), core, RenderOptions(format="keyValues"))
    assert out["level"] == {"dataset": {"@none": 1, "urn:ds:b": 2}}


def test_multi_instance_attribute_is_an_array_in_normalized_and_concise(core: TermMap) -> None:
    doc = {"id": ID, "type": "T", "level": [{"value": 1}, {"value": 2, "datasetId": "urn:ds:b"}]}
    stored = parse_entity(doc, core, NOW)
    assert render_entity(stored, core, RenderOptions())["level"] == [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "datasetId": "urn:ds:b"},
    ]
    assert render_entity(stored, core, RenderOptions(format="concise"))["level"] == [
        {"value": 1},
        {"value": 2, "datasetId": "urn:ds:b"},
    ]


def test_dataset_id_option_selects_instances(core: TermMap) -> None:
    doc = {"id": ID, "type": "T", "level": [{"value": 1}, {"value": 2, "datasetId": "urn:ds:b"}]}
    stored = parse_entity(doc, core, NOW)
    out = render_entity(stored, core, RenderOptions(format="keyValues", dataset_id=frozenset({"urn:ds:b"})))
    assert out["level"] == 2
    out = render_entity(stored, core, RenderOptions(format="keyValues", dataset_id=frozenset({"@none"})))
    assert out["level"] == 1


def test_sys_attrs_adds_timestamps_to_entity_and_instances(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions(sys_attrs=True))
    assert out["createdAt"] == out["modifiedAt"] == NOW
    assert out["waterLevel"]["modifiedAt"] == NOW
    assert out["waterLevel"]["quality"]["createdAt"] == NOW


def test_lang_picks_one_language_as_a_property(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions(lang="ja"))
    assert out["name"] == {"type": "Property", "value": "豊平川", "lang": "ja"}
    assert render_entity(stored, user, RenderOptions(lang="ja", format="keyValues"))["name"] == "豊平川"
    assert render_entity(stored, user, RenderOptions(lang="ja", format="concise"))["name"] == {
        "value": "豊平川",
        "lang": "ja",
    }


def test_lang_with_weights_prefers_the_highest(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(stored, user, RenderOptions(lang="fr;q=0.9,en;q=0.5,ja;q=0.1"))
    assert out["name"]["lang"] == "en"


def test_lang_falls_back_to_none_then_any(stored: dict[str, Any], user: TermMap) -> None:
    assert render_entity(stored, user, RenderOptions(lang="fr"))["name"]["lang"] == "@none"
    doc = {"id": ID, "type": "T", "name": {"languageMap": {"ja": "豊平川"}}}
    out = render_entity(parse_entity(doc, user, NOW), user, RenderOptions(lang="fr"))
    assert out["name"] == {"type": "Property", "value": "豊平川", "lang": "ja"}


def test_lang_star_keeps_every_language(stored: dict[str, Any], user: TermMap) -> None:
    assert render_entity(stored, user, RenderOptions(lang="*"))["name"]["type"] == "LanguageProperty"


def test_attrs_projection_keeps_id_and_type(stored: dict[str, Any], user: TermMap) -> None:
    attrs = expand_names(["waterLevel", "river"], user)
    out = render_entity(stored, user, RenderOptions(format="keyValues", attrs=attrs))
    assert out == {
        "id": ID,
        "type": "WaterLevelGauge",
        "scope": "/Hokkaido",
        "waterLevel": 3.2,
        "river": "urn:ngsi-ld:River:toyohira",
    }


def test_pick_selects_entity_members_and_attributes(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entity(
        stored, user, RenderOptions(format="keyValues", pick=expand_names(["id", "waterLevel"], user))
    )
    assert out == {"id": ID, "waterLevel": 3.2}


def test_omit_removes_entity_members_and_attributes(stored: dict[str, Any], user: TermMap) -> None:
    omit = expand_names(["type", "scope", "location", "name"], user)
    out = render_entity(stored, user, RenderOptions(format="keyValues", omit=omit))
    assert "type" not in out and "scope" not in out and "location" not in out and "name" not in out
    assert out["id"] == ID


def test_compaction_uses_the_callers_context(stored: dict[str, Any], core: TermMap) -> None:
    out = render_entity(stored, core, RenderOptions(format="keyValues"))
    assert out["type"] == "https://smartdatamodels.org/dataModel.Environment/WaterLevelGauge"
    assert out["https://smartdatamodels.org/dataModel.Environment/waterLevel"] == 3.2
    assert out["https://uri.fiware.org/ns/data-models#category"] == {
        "vocab": "https://uri.fiware.org/ns/data-models#residential"
    }
    assert out["location"] == POINT


def test_geojson_feature_uses_the_geometry_property(stored: dict[str, Any], user: TermMap) -> None:
    feature = render_geojson(stored, user, RenderOptions(format="keyValues"))
    assert feature["type"] == "Feature"
    assert feature["id"] == ID
    assert feature["geometry"] == POINT
    assert feature["properties"]["type"] == "WaterLevelGauge"
    assert feature["properties"]["waterLevel"] == 3.2
    assert "id" not in feature["properties"]


def test_geojson_collection_with_another_geometry_property(core: TermMap) -> None:
    docs = [
        {"id": "urn:a:1", "type": "T", "area": {"type": "Point", "coordinates": [1, 2]}},
        {"id": "urn:a:2", "type": "T"},
    ]
    entities = [parse_entity(d, core, NOW) for d in docs]
    opts = RenderOptions(geometry_property=core.expand("area"))
    collection = render_geojson(entities, core, opts)
    assert collection["type"] == "FeatureCollection"
    assert [f["geometry"] for f in collection["features"]] == [{"type": "Point", "coordinates": [1, 2]}, None]
    assert collection["features"][0]["properties"]["area"]["type"] == "GeoProperty"


def test_with_context_adds_the_context_member(core: TermMap, user: TermMap) -> None:
    assert with_context({"id": ID}, core) == {"id": ID, "@context": CORE_CONTEXT_URL}
    assert with_context({"id": ID}, user)["@context"] == ["https://example.org/ctx.jsonld", CORE_CONTEXT_URL]


def test_render_entities_renders_each(stored: dict[str, Any], user: TermMap) -> None:
    out = render_entities([stored, stored], user, RenderOptions(format="keyValues", attrs=frozenset()))
    assert out == [{"id": ID, "type": "WaterLevelGauge", "scope": "/Hokkaido"}] * 2


def test_rendering_does_not_mutate_the_stored_entity(stored: dict[str, Any], user: TermMap) -> None:
    before = repr(stored)
    render_entity(stored, user, RenderOptions(format="concise", sys_attrs=True, lang="ja"))
    assert repr(stored) == before
