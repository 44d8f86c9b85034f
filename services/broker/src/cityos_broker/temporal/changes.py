"""Turn a change event (or a temporal API write) into the history it records: pure, no Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cityos_broker.temporal.timeutil import to_ms

Instance = dict[str, Any]
INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"
# uuid5 namespace of instance ids derived from change events: the same event always yields the same ids.
_INSTANCE_NAMESPACE = uuid.UUID("6f1f3c52-5a0e-4c58-9d43-1b2a9f3e7c10")


@dataclass(slots=True)
class HistoryWrite:
    """What one change records: new instances, the entity's types and its latest state fields."""

    entity_id: str
    seq: str
    types: list[str] = field(default_factory=list)
    instances: list[tuple[str, float, Instance]] = field(default_factory=list)  # (attr IRI, ms, instance)
    fields: dict[str, str] = field(default_factory=dict)  # "type" | "scope" | "a:<iri>" -> JSON or ""

    @property
    def empty(self) -> bool:
        return not self.instances and not self.fields


def sequence(stream_id: str) -> str:
    """A fixed-width, lexically ordered form of a stream entry id `<ms>-<n>`."""
    ms, _, n = stream_id.partition("-")
    return f"{int(ms):015d}-{int(n or 0):010d}"


def instance_time(instance: Mapping[str, Any], time_property: str = "observedAt") -> float | None:
    """Epoch ms of an instance for `time_property` (observedAt falls back to modifiedAt, then createdAt)."""
    order = (time_property,) if time_property != "observedAt" else ("observedAt", "modifiedAt", "createdAt")
    for name in order:
        text = instance.get(name)
        if isinstance(text, str):
            try:
                return to_ms(text)
            except ValueError:
                continue
    return None


def instance_id(seed: str) -> str:
    """A stable instance id for `seed` (event id, entity, attribute, dataset)."""
    return INSTANCE_PREFIX + str(uuid.uuid5(_INSTANCE_NAMESPACE, seed))


def encode_instance(instance: Instance) -> bytes:
    """The zset member of an instance: sorted keys, so a re-recorded instance is byte-identical."""
    return orjson.dumps(instance, option=orjson.OPT_SORT_KEYS)


def _by_dataset(instances: Iterable[Instance]) -> dict[str | None, Instance]:
    return {i.get("datasetId"): i for i in instances}


def _attrs(entity: Mapping[str, Any] | None) -> dict[str, list[Instance]]:
    if not entity:
        return {}
    attrs = entity.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def from_change(
    stream_id: str, entity_id: str, at: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> HistoryWrite:
    """The history of one change: every instance that is new or different in `after` is recorded.

    Removed attributes add no instance (their history stays); the latest-state fields follow `after`.
    A deletion of the whole entity records nothing: the temporal entity and its history remain.
    """
    seq = sequence(stream_id)
    write = HistoryWrite(entity_id, seq)
    if after is None:
        return write
    write.types = [str(t) for t in after.get("type") or []]
    write.fields["type"] = orjson.dumps(write.types).decode()
    scope = after.get("scope")
    write.fields["scope"] = orjson.dumps(scope).decode() if scope else ""
    old, new = _attrs(before), _attrs(after)
    fallback = to_ms(at) if at else None
    for iri, instances in new.items():
        previous = _by_dataset(old.get(iri, ()))
        for instance in instances:
            dataset = instance.get("datasetId")
            if previous.get(dataset) == instance:
                continue
            ms = instance_time(instance)
            if ms is None:
                ms = fallback
            if ms is None:
                continue
            recorded = {**instance, "instanceId": instance_id(f"{stream_id} {entity_id} {iri} {dataset}")}
            write.instances.append((iri, ms, recorded))
        write.fields["a:" + iri] = orjson.dumps(instances).decode()
    for iri in old.keys() - new.keys():
        write.fields["a:" + iri] = ""
    return write


def latest_state(entity_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The stored-form entity a temporal query filters on, rebuilt from the latest-state hash fields."""
    entity: dict[str, Any] = {"id": entity_id, "type": [], "attrs": {}}
    for name, raw in fields.items():
        if name.startswith("q:") or not raw:
            continue
        if name == "type":
            entity["type"] = orjson.loads(raw)
        elif name == "scope":
            entity["scope"] = orjson.loads(raw)
        elif name.startswith("a:"):
            entity["attrs"][name[2:]] = orjson.loads(raw)
    return entity
