"""Parse temporal representation bodies (POST /temporal/entities and .../attrs) into a history write."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from cityos_broker.ngsild.attribute import ENTITY_MEMBERS, bad, check_name, parse_instances, parse_types
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.entity import validate_entity_id
from cityos_broker.temporal.changes import INSTANCE_PREFIX, HistoryWrite, Instance, instance_time

_SKIPPED = ENTITY_MEMBERS | {"@id", "@type", "@context"}


def _attr_iri(name: str, terms: TermMap) -> str:
    check_name(name, "attribute")
    iri = terms.expand(name)
    if iri.startswith("@"):
        raise bad(f"{name!r} is not a valid attribute name")
    return iri


def _instances(name: str, iri: str, raw: object, terms: TermMap, now: str) -> list[Instance]:
    """Every instance of one attribute: an array of instances (any number per datasetId) or one."""
    items = raw if isinstance(raw, list) and raw and all(isinstance(i, dict) for i in raw) else [raw]
    out: list[Instance] = []
    for item in items:
        out += parse_instances(name, iri, item, terms, now, allow_null=False, partial=False)
    return out


def temporal_write(
    doc: dict[str, Any], terms: TermMap, now: str, *, entity_id: str | None = None, need_type: bool
) -> HistoryWrite:
    """A history write holding every instance of the body, each with a fresh instanceId.

    An instance is placed in time by observedAt, else by the time of the request.
    """
    raw_id = doc.get("id", doc.get("@id"))
    if entity_id is None:
        entity_id = validate_entity_id(raw_id)
    elif raw_id is not None and raw_id != entity_id:
        raise bad(f"the body's id {raw_id!r} differs from the entity id in the path {entity_id!r}")
    raw_type = doc.get("type", doc.get("@type"))
    if raw_type is None and need_type:
        raise bad(f"temporal entity {entity_id} has no type")
    now_ms = time.time() * 1000.0
    write = HistoryWrite(entity_id, f"{int(now_ms):015d}-{0:010d}")
    if raw_type is not None:
        write.types = parse_types(raw_type, terms)
        write.fields["type"] = orjson.dumps(write.types).decode()
    if "scope" in doc:
        scope = doc["scope"] if isinstance(doc["scope"], list) else [doc["scope"]]
        if not all(isinstance(s, str) and s.startswith("/") for s in scope):
            raise bad("scope must be a scope string or a list of them (each starting with /)")
        write.fields["scope"] = orjson.dumps(scope).decode() if scope else ""
    for name, raw in doc.items():
        if name in _SKIPPED:
            continue
        iri = _attr_iri(name, terms)
        latest: dict[str | None, tuple[float, Instance]] = {}
        for instance in _instances(name, iri, raw, terms, now):
            at = instance_time(instance) or now_ms
            instance["instanceId"] = INSTANCE_PREFIX + str(uuid.uuid4())
            write.instances.append((iri, at, instance))
            dataset = instance.get("datasetId")
            if dataset not in latest or latest[dataset][0] <= at:
                latest[dataset] = (at, instance)
        current = [{k: v for k, v in i.items() if k != "instanceId"} for _, i in latest.values()]
        write.fields["a:" + iri] = orjson.dumps(current).decode()
    if not write.instances and not need_type:
        raise bad("the body holds no attribute instances to append")
    return write
