"""Clause 4.9 attribute paths: sub-attributes, meta members, compound-value trailing paths."""

from __future__ import annotations

from typing import Any

from cityos_broker.query import compile_q

D = "https://uri.etsi.org/ngsi-ld/default-context/"


def entity(**attrs: Any) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Thing:1",
        "type": [D + "Thing"],
        "attrs": {D + name: (inst if isinstance(inst, list) else [inst]) for name, inst in attrs.items()},
    }


def q(text: str, ent: dict[str, Any], expand: Any) -> bool:
    return compile_q(text, expand).matches(ent)


SENSOR = entity(
    sensor={
        "type": "Property",
        "value": 40,
        "observedAt": "2026-11-22T03:04:00Z",
        "unitCode": "MTR",
        "createdAt": "2026-11-01T00:00:00Z",
        "modifiedAt": "2026-11-22T03:05:00Z",
        "datasetId": "urn:ngsi-ld:Dataset:raw",
        "attrs": {
            D + "rawdata": {
                "type": "Property",
                "value": {"airquality": {"particulate": 40, "PM20": 85}, "samples": [{"n": 1}, {"n": 2}]},
            },
            D + "quality": {
                "type": "Property",
                "value": "good",
                "attrs": {D + "checkedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}},
            },
        },
    },
    address={"type": "Property", "value": {"city": "Sapporo", "ward": {"name": "Chuo"}}},
)


def test_sub_attribute_value(expand: Any) -> None:
    assert q('sensor.quality=="good"', SENSOR, expand)
    assert not q('sensor.quality=="bad"', SENSOR, expand)


def test_sub_attribute_existence(expand: Any) -> None:
    assert q("sensor.quality", SENSOR, expand)
    assert not q("sensor.battery", SENSOR, expand)


def test_nested_sub_sub_attribute_relationship(expand: Any) -> None:
    assert q("sensor.quality.checkedBy==urn:ngsi-ld:Person:1", SENSOR, expand)


def test_sub_attribute_compound_trailing_path(expand: Any) -> None:
    assert q("sensor.rawdata[airquality.particulate]==40", SENSOR, expand)
    assert q("sensor.rawdata[airquality.PM20]>80", SENSOR, expand)


def test_trailing_path_on_top_level_compound_value(expand: Any) -> None:
    assert q('address[city]=="Sapporo"', SENSOR, expand)
    assert q('address[ward.name]=="Chuo"', SENSOR, expand)
    assert not q('address[city]=="Otaru"', SENSOR, expand)


def test_trailing_path_that_is_undefined_means_non_existent(expand: Any) -> None:
    assert not q("address[postcode]", SENSOR, expand)
    assert not q('address[postcode]!="x"', SENSOR, expand)
    assert q("address[city]", SENSOR, expand)


def test_trailing_path_on_array_matches_any_element(expand: Any) -> None:
    assert q("sensor.rawdata[samples.n]==2", SENSOR, expand)
    assert not q("sensor.rawdata[samples.n]==3", SENSOR, expand)


def test_meta_observed_at_compares_as_datetime(expand: Any) -> None:
    assert q("sensor.observedAt>=2026-11-22T03:00:00Z", SENSOR, expand)
    assert not q("sensor.observedAt>2026-11-22T03:04:00Z", SENSOR, expand)


def test_meta_unit_code(expand: Any) -> None:
    assert q('sensor.unitCode=="MTR"', SENSOR, expand)
    assert q("sensor.unitCode==MTR", SENSOR, expand)


def test_meta_dataset_id(expand: Any) -> None:
    assert q("sensor.datasetId==urn:ngsi-ld:Dataset:raw", SENSOR, expand)


def test_meta_created_and_modified_at(expand: Any) -> None:
    assert q("sensor.createdAt<2026-11-02T00:00:00Z", SENSOR, expand)
    assert q("sensor.modifiedAt==2026-11-22T03:05:00Z", SENSOR, expand)


def test_meta_member_existence(expand: Any) -> None:
    assert q("sensor.observedAt", SENSOR, expand)
    assert not q("address.observedAt", SENSOR, expand)


def test_meta_on_one_of_several_instances(expand: Any) -> None:
    ent = entity(
        temperature=[
            {"type": "Property", "value": 1, "observedAt": "2020-01-01T00:00:00Z"},
            {"type": "Property", "value": 2, "datasetId": "urn:x:b", "observedAt": "2026-01-01T00:00:00Z"},
        ]
    )
    assert q("temperature.observedAt>2025-01-01T00:00:00Z", ent, expand)


def test_sub_attribute_names_are_expanded(expand: Any) -> None:
    ent = {
        "id": "urn:x:1",
        "type": ["https://e.org/T"],
        "attrs": {
            "https://e.org/a": [
                {
                    "type": "Property",
                    "value": 1,
                    "attrs": {"https://e.org/b": {"type": "Property", "value": 2}},
                }
            ]
        },
    }
    assert q("a.b==2", ent, lambda t: "https://e.org/" + t)


def test_unicode_attribute_names(expand: Any) -> None:
    ent = entity(水位={"type": "Property", "value": 3.2})
    assert q("水位>3", ent, expand)
