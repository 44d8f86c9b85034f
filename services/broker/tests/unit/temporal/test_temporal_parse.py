"""Temporal request bodies and change-stream entries: what is accepted and what is refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cityos_broker.ngsild.terms import core_term_map
from cityos_broker.temporal.parse import temporal_write
from cityos_broker.temporal.recorder import to_write
from cityos_broker.temporal.timeutil import to_ms
from cityos_runtime.problems import ProblemError

NOW = "2026-11-22T00:00:00.000000Z"
TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"


def test_arrays_of_instances_with_the_same_dataset_are_history() -> None:
    doc = {
        "id": "urn:ngsi-ld:Room:1",
        "type": "Room",
        "temperature": [
            {"type": "Property", "value": 20, "observedAt": "2026-11-20T10:00:00Z"},
            {"type": "Property", "value": 22, "observedAt": "2026-11-20T11:00:00Z"},
            {"type": "Property", "value": 21, "observedAt": "2026-11-20T10:30:00Z"},
        ],
    }
    write = temporal_write(doc, core_term_map(), NOW, need_type=True)
    assert [(iri, ms) for iri, ms, _ in write.instances] == [
        (TEMPERATURE, to_ms("2026-11-20T10:00:00Z")),
        (TEMPERATURE, to_ms("2026-11-20T11:00:00Z")),
        (TEMPERATURE, to_ms("2026-11-20T10:30:00Z")),
    ]
    assert len({i["instanceId"] for _, _, i in write.instances}) == 3
    latest = orjson.loads(write.fields["a:" + TEMPERATURE])
    assert [i["value"] for i in latest] == [22]  # the newest instance is the latest state


@pytest.mark.parametrize(
    ("doc", "kwargs", "fragment"),
    [
        ({"id": "urn:x:1", "a": 1}, {"need_type": True}, "has no type"),
        ({"id": "not a uri", "type": "T"}, {"need_type": True}, "id"),
        ({"id": "urn:x:2", "a": 1}, {"entity_id": "urn:x:1", "need_type": False}, "differs"),
        ({}, {"entity_id": "urn:x:1", "need_type": False}, "no attribute instances"),
        ({"id": "urn:x:1", "type": "T", "scope": "nope"}, {"need_type": True}, "scope"),
        ({"id": "urn:x:1", "type": "T", "a": {"type": "Property"}}, {"need_type": True}, "a"),
        ({"id": "urn:x:1", "type": "T", "a b": 1}, {"need_type": True}, "invalid attribute name"),
    ],
)
def test_bad_bodies(doc: dict[str, Any], kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ProblemError) as caught:
        temporal_write(doc, core_term_map(), NOW, **kwargs)
    assert caught.value.kind == "BadRequestData"
    assert fragment in caught.value.detail


def test_malformed_change_entries_raise_instead_of_recording_garbage() -> None:
    with pytest.raises(ValueError):
        to_write("1-0", {b"op": b"update"})
    with pytest.raises(orjson.JSONDecodeError):
        to_write("1-0", {b"id": b"urn:x:1", b"after": b"{not json"})
    entity = {"id": "urn:x:1", "type": ["T"], "attrs": {TEMPERATURE: [{"type": "Property", "value": 1}]}}
    write = to_write("7-0", {b"id": b"urn:x:1", b"at": NOW.encode(), b"after": orjson.dumps(entity)})
    assert [ms for _, ms, _ in write.instances] == [to_ms(NOW)]  # no instance time: the change's time
