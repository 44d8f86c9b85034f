"""Pure entity edits: merge, replace, append (noOverwrite), update, partial update, replace and delete."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.entity import parse_attribute, parse_entity, parse_fragment
from cityos_broker.ngsild.operations import (
    append_attributes,
    attribute_names,
    delete_attribute,
    entity_types,
    geo_values,
    merge_entity,
    partial_update_attribute,
    replace_attribute,
    replace_entity,
    update_attributes,
)
from cityos_runtime.problems import ProblemError

NOW = "2026-11-22T03:00:00.000000Z"
LATER = "2026-11-22T04:00:00.000000Z"
ID = "urn:ngsi-ld:Gauge:1"
D = "https://uri.etsi.org/ngsi-ld/default-context/"
DS = "urn:ngsi-ld:Dataset:b"
POINT = {"type": "Point", "coordinates": [141.35, 43.06]}


@pytest.fixture
def stored(core: TermMap) -> dict[str, Any]:
    doc = {
        "id": ID,
        "type": "Gauge",
        "level": [{"value": 1.0, "quality": {"value": "ok"}}, {"value": 2.0, "datasetId": DS}],
        "address": {"value": {"city": "Sapporo", "ward": "Chuo"}},
        "location": POINT,
    }
    return parse_entity(doc, core, NOW)


def _values(entity: dict[str, Any], name: str) -> list[Any]:
    return [i.get("value") for i in entity["attrs"].get(D + name, [])]


def test_merge_adds_and_merges_attributes_keeping_created_at(stored: dict[str, Any], core: TermMap) -> None:
    fragment = parse_fragment({"level": {"value": 5.0}, "flow": 7}, core, LATER, allow_null=True)
    new = merge_entity(stored, fragment, LATER)
    assert _values(new, "level") == [5.0, 2.0]
    assert _values(new, "flow") == [7]
    [level, _] = new["attrs"][D + "level"]
    assert level["createdAt"] == NOW and level["modifiedAt"] == LATER
    # Members not in the patch stay: the sub-attribute survives a merge.
    assert level["attrs"][D + "quality"]["value"] == "ok"
    assert new["createdAt"] == NOW and new["modifiedAt"] == LATER


def test_merge_null_deletes_attribute_and_sub_attribute(stored: dict[str, Any], core: TermMap) -> None:
    doc = {"address": "urn:ngsi-ld:null", "level": {"value": 3.0, "quality": "urn:ngsi-ld:null"}}
    new = merge_entity(stored, parse_fragment(doc, core, LATER, allow_null=True), LATER)
    assert D + "address" not in new["attrs"]
    assert "attrs" not in new["attrs"][D + "level"][0]


def test_merge_patches_compound_values(stored: dict[str, Any], core: TermMap) -> None:
    doc = {"address": {"value": {"ward": None, "zip": "060-0001"}}}
    new = merge_entity(stored, parse_fragment(doc, core, LATER, allow_null=True), LATER)
    assert _values(new, "address") == [{"city": "Sapporo", "zip": "060-0001"}]


def test_merge_can_change_the_attribute_kind(stored: dict[str, Any], core: TermMap) -> None:
    doc = {"address": {"type": "Relationship", "object": "urn:ngsi-ld:Address:1"}}
    new = merge_entity(stored, parse_fragment(doc, core, LATER, allow_null=True), LATER)
    [address] = new["attrs"][D + "address"]
    assert address["type"] == "Relationship" and "value" not in address


def test_merge_scope_and_null_scope(stored: dict[str, Any], core: TermMap) -> None:
    with_scope = merge_entity(
        stored, parse_fragment({"scope": "/Sapporo"}, core, LATER, allow_null=True), LATER
    )
    assert with_scope["scope"] == ["/Sapporo"]
    cleared = merge_entity(with_scope, parse_fragment({"scope": None}, core, LATER, allow_null=True), LATER)
    assert "scope" not in cleared


def test_operations_never_mutate_their_input(stored: dict[str, Any], core: TermMap) -> None:
    before = copy.deepcopy(stored)
    fragment = parse_fragment({"level": {"value": 9.0, "quality": None}}, core, LATER, allow_null=True)
    merge_entity(stored, fragment, LATER)
    append_attributes(stored, parse_fragment({"level": 3}, core, LATER), LATER)
    update_attributes(stored, parse_fragment({"level": 3}, core, LATER), LATER)
    delete_attribute(stored, D + "level", LATER, delete_all=True)
    assert stored == before


def test_replace_entity_keeps_created_at(stored: dict[str, Any], core: TermMap) -> None:
    replacement = parse_entity({"id": ID, "type": "Other", "flow": 1}, core, LATER)
    new = replace_entity(stored, replacement, LATER)
    assert new["createdAt"] == NOW and new["modifiedAt"] == LATER
    assert new["type"] == [D + "Other"]
    assert list(new["attrs"]) == [D + "flow"]


def test_replace_entity_with_another_id_is_bad_request(stored: dict[str, Any], core: TermMap) -> None:
    with pytest.raises(ProblemError) as caught:
        replace_entity(stored, parse_entity({"id": "urn:x:2", "type": "T"}, core, LATER), LATER)
    assert caught.value.kind == "BadRequestData"


def test_append_overwrites_and_adds(stored: dict[str, Any], core: TermMap) -> None:
    new, updated, not_updated = append_attributes(
        stored, parse_fragment({"level": 9, "flow": 1}, core, LATER), LATER
    )
    assert _values(new, "level") == [9, 2.0]
    assert new["attrs"][D + "level"][0]["createdAt"] == NOW
    assert _values(new, "flow") == [1]
    assert updated == [D + "level", D + "flow"]
    assert not_updated == []


def test_append_no_overwrite_keeps_existing_attributes(stored: dict[str, Any], core: TermMap) -> None:
    fragment = parse_fragment({"level": 9, "flow": 1}, core, LATER)
    new, updated, not_updated = append_attributes(stored, fragment, LATER, no_overwrite=True)
    assert _values(new, "level") == [1.0, 2.0]
    assert updated == [D + "flow"]
    assert [name for name, _ in not_updated] == [D + "level"]


def test_append_new_dataset_instance_with_no_overwrite(stored: dict[str, Any], core: TermMap) -> None:
    fragment = parse_fragment({"level": {"value": 3, "datasetId": "urn:ds:c"}}, core, LATER)
    new, updated, _ = append_attributes(stored, fragment, LATER, no_overwrite=True)
    assert _values(new, "level") == [1.0, 2.0, 3]
    assert updated == [D + "level"]


def test_append_adds_new_types_and_rejects_another_id(stored: dict[str, Any], core: TermMap) -> None:
    new, _, _ = append_attributes(stored, parse_fragment({"type": "Sensor"}, core, LATER), LATER)
    assert new["type"] == [D + "Gauge", D + "Sensor"]
    with pytest.raises(ProblemError):
        append_attributes(stored, parse_fragment({"id": "urn:x:other", "flow": 1}, core, LATER), LATER)


def test_update_changes_only_existing_attributes(stored: dict[str, Any], core: TermMap) -> None:
    fragment = parse_fragment(
        {"level": [{"value": 5}, {"value": 6, "datasetId": "urn:ds:missing"}], "flow": 1}, core, LATER
    )
    new, updated, not_updated = update_attributes(stored, fragment, LATER)
    assert _values(new, "level") == [5, 2.0]
    assert D + "flow" not in new["attrs"]
    assert updated == [D + "level"]
    assert sorted(name for name, _ in not_updated) == [D + "flow", D + "level"]


def test_update_with_a_different_type_is_bad_request(stored: dict[str, Any], core: TermMap) -> None:
    with pytest.raises(ProblemError) as caught:
        update_attributes(stored, parse_fragment({"type": "Other", "level": 1}, core, LATER), LATER)
    assert caught.value.kind == "BadRequestData"


def test_partial_update_merges_members_of_the_dataset_instance(stored: dict[str, Any], core: TermMap) -> None:
    iri, instances = parse_attribute(
        "level", {"observedAt": "2026-11-22T03:30:00Z", "datasetId": DS}, core, LATER, partial=True
    )
    new = partial_update_attribute(stored, iri, instances, LATER)
    [_, instance] = new["attrs"][iri]
    assert instance["value"] == 2.0
    assert instance["observedAt"] == "2026-11-22T03:30:00Z"
    assert instance["modifiedAt"] == LATER and instance["createdAt"] == NOW


def test_partial_update_of_missing_attribute_is_not_found(stored: dict[str, Any], core: TermMap) -> None:
    iri, instances = parse_attribute("flow", {"value": 1}, core, LATER, partial=True)
    with pytest.raises(ProblemError) as caught:
        partial_update_attribute(stored, iri, instances, LATER)
    assert caught.value.kind == "ResourceNotFound"
    iri, instances = parse_attribute(
        "level", {"value": 1, "datasetId": "urn:ds:x"}, core, LATER, partial=True
    )
    with pytest.raises(ProblemError) as caught:
        partial_update_attribute(stored, iri, instances, LATER)
    assert caught.value.status == 404


def test_partial_update_null_deletes_the_instance(stored: dict[str, Any], core: TermMap) -> None:
    iri, instances = parse_attribute("level", {"value": None}, core, LATER, partial=True, allow_null=True)
    new = partial_update_attribute(stored, iri, instances, LATER)
    assert _values(new, "level") == [2.0]


def test_replace_attribute_replaces_the_instance(stored: dict[str, Any], core: TermMap) -> None:
    iri, instances = parse_attribute("level", {"type": "Property", "value": 8}, core, LATER)
    new = replace_attribute(stored, iri, instances, LATER)
    [level, _] = new["attrs"][iri]
    assert level["value"] == 8 and "attrs" not in level
    assert level["createdAt"] == NOW


def test_replace_missing_attribute_is_not_found(stored: dict[str, Any], core: TermMap) -> None:
    iri, instances = parse_attribute("flow", 1, core, LATER)
    with pytest.raises(ProblemError) as caught:
        replace_attribute(stored, iri, instances, LATER)
    assert caught.value.kind == "ResourceNotFound"


def test_delete_default_instance(stored: dict[str, Any]) -> None:
    new = delete_attribute(stored, D + "level", LATER)
    assert _values(new, "level") == [2.0]
    assert new["modifiedAt"] == LATER


def test_delete_by_dataset_id(stored: dict[str, Any]) -> None:
    new = delete_attribute(stored, D + "level", LATER, dataset_id=DS)
    assert _values(new, "level") == [1.0]


def test_delete_all_instances(stored: dict[str, Any]) -> None:
    new = delete_attribute(stored, D + "level", LATER, delete_all=True)
    assert D + "level" not in new["attrs"]


def test_delete_missing_attribute_or_dataset_is_not_found(stored: dict[str, Any]) -> None:
    with pytest.raises(ProblemError) as caught:
        delete_attribute(stored, D + "flow", LATER)
    assert caught.value.kind == "ResourceNotFound"
    with pytest.raises(ProblemError) as caught:
        delete_attribute(stored, D + "level", LATER, dataset_id="urn:ds:none")
    assert caught.value.kind == "ResourceNotFound"


def test_index_helpers(stored: dict[str, Any]) -> None:
    assert entity_types(stored) == [D + "Gauge"]
    assert attribute_names(stored) == [D + "level", D + "address", "https://uri.etsi.org/ngsi-ld/location"]
    assert geo_values(stored) == {"https://uri.etsi.org/ngsi-ld/location": [POINT]}
