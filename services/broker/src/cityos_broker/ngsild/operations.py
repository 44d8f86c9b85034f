"""Pure edits of stored entities: each returns a new stored form and never mutates its inputs."""

from __future__ import annotations

from typing import Any

from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.attribute import CONTENT_MEMBER, NGSILD_NULL
from cityos_broker.ngsild.entity import Attrs, Fragment, Instance, is_null_instance

Entity = dict[str, Any]
NotUpdated = tuple[str, str]

__all__ = [
    "Attrs",
    "Entity",
    "NotUpdated",
    "append_attributes",
    "attribute_names",
    "delete_attribute",
    "entity_types",
    "geo_values",
    "merge_entity",
    "partial_update_attribute",
    "replace_attribute",
    "replace_entity",
    "update_attributes",
]


def merge_entity(stored: Entity, fragment: Fragment, now: str) -> Entity:
    """PATCH /entities/{id} (merge-patch): add or merge attributes; null markers delete."""
    new = _with_identity(stored, fragment, add_types=True)
    attrs = dict(new["attrs"])
    for iri, instances in fragment.attrs.items():
        current = list(attrs.get(iri, ()))
        for instance in instances:
            pos = _find(current, instance.get("datasetId"))
            if is_null_instance(instance):
                if pos >= 0:
                    del current[pos]
            elif pos < 0:
                current.append(_drop_nulls(instance))
            else:
                current[pos] = _merge_instance(current[pos], instance, now)
        _put(attrs, iri, current)
    if fragment.scope_null:
        new.pop("scope", None)
    elif fragment.scope is not None:
        _set_scope(new, fragment.scope)
    return _finish(new, attrs, now)


def replace_entity(stored: Entity, replacement: Entity, now: str) -> Entity:
    """PUT /entities/{id}: the replacement's attributes and types, keeping the entity's createdAt."""
    if replacement["id"] != stored["id"]:
        raise ProblemError("BadRequestData", "the entity id in the body differs from the one in the path")
    new = dict(replacement)
    new["createdAt"] = stored["createdAt"]
    new["modifiedAt"] = now
    return new


def append_attributes(
    stored: Entity, fragment: Fragment, now: str, *, no_overwrite: bool = False
) -> tuple[Entity, list[str], list[NotUpdated]]:
    """POST /entities/{id}/attrs: add attributes (kept when no_overwrite): (new, updated, not updated)."""
    new = _with_identity(stored, fragment, add_types=True)
    attrs = dict(new["attrs"])
    updated: list[str] = []
    not_updated: list[NotUpdated] = []
    for iri, instances in fragment.attrs.items():
        current = list(attrs.get(iri, ()))
        changed = False
        for instance in instances:
            pos = _find(current, instance.get("datasetId"))
            if pos < 0:
                current.append(instance)
                changed = True
            elif no_overwrite:
                not_updated.append((iri, "attribute already exists and noOverwrite was given"))
            else:
                current[pos] = _replaced(current[pos], instance, now)
                changed = True
        if changed:
            attrs[iri] = current
            updated.append(iri)
    if fragment.scope is not None:
        _set_scope(new, list(dict.fromkeys([*new.get("scope", ()), *fragment.scope])))
    return _finish(new, attrs, now), updated, not_updated


def update_attributes(
    stored: Entity, fragment: Fragment, now: str
) -> tuple[Entity, list[str], list[NotUpdated]]:
    """PATCH /entities/{id}/attrs: replace only existing attribute instances; others are not updated."""
    new = _with_identity(stored, fragment, add_types=False)
    attrs = dict(new["attrs"])
    updated: list[str] = []
    not_updated: list[NotUpdated] = []
    for iri, instances in fragment.attrs.items():
        if iri not in attrs:
            not_updated.append((iri, "attribute does not exist"))
            continue
        current = list(attrs[iri])
        changed = False
        for instance in instances:
            dataset = instance.get("datasetId")
            pos = _find(current, dataset)
            if pos < 0:
                which = f"datasetId {dataset}" if dataset else "the default instance"
                not_updated.append((iri, f"attribute has no {which}"))
            else:
                current[pos] = _replaced(current[pos], instance, now)
                changed = True
        if changed:
            attrs[iri] = current
            updated.append(iri)
    if fragment.scope is not None:
        _set_scope(new, fragment.scope)
    return _finish(new, attrs, now), updated, not_updated


def partial_update_attribute(stored: Entity, attr_iri: str, instances: list[Instance], now: str) -> Entity:
    """PATCH /entities/{id}/attrs/{attrId}: merge members into the matching instances (404 if missing)."""
    current = _existing(stored, attr_iri)
    for instance in instances:
        pos = _require(current, attr_iri, instance.get("datasetId"))
        if is_null_instance(instance):
            del current[pos]
        else:
            current[pos] = _merge_instance(current[pos], instance, now)
    attrs = dict(stored["attrs"])
    _put(attrs, attr_iri, current)
    return _finish(dict(stored), attrs, now)


def replace_attribute(stored: Entity, attr_iri: str, instances: list[Instance], now: str) -> Entity:
    """PUT /entities/{id}/attrs/{attrId}: replace the matching instances (404 if missing)."""
    current = _existing(stored, attr_iri)
    for instance in instances:
        pos = _require(current, attr_iri, instance.get("datasetId"))
        current[pos] = _replaced(current[pos], instance, now)
    attrs = dict(stored["attrs"])
    attrs[attr_iri] = current
    return _finish(dict(stored), attrs, now)


def delete_attribute(
    stored: Entity, attr_iri: str, now: str, *, dataset_id: str | None = None, delete_all: bool = False
) -> Entity:
    """DELETE /entities/{id}/attrs/{attrId}: default or given datasetId instance, or all (404 if missing)."""
    current = _existing(stored, attr_iri)
    if delete_all:
        current = []
    else:
        del current[_require(current, attr_iri, dataset_id)]
    attrs = dict(stored["attrs"])
    _put(attrs, attr_iri, current)
    return _finish(dict(stored), attrs, now)


def entity_types(stored: Entity) -> list[str]:
    """The entity's expanded type IRIs."""
    return list(stored["type"])


def attribute_names(stored: Entity) -> list[str]:
    """The entity's expanded attribute IRIs."""
    return list(stored["attrs"])


def geo_values(stored: Entity) -> dict[str, list[dict[str, Any]]]:
    """GeoJSON geometries of every GeoProperty instance, by attribute IRI."""
    result: dict[str, list[dict[str, Any]]] = {}
    for iri, instances in stored["attrs"].items():
        geometries = [
            i["value"]
            for i in instances
            if i.get("type") == "GeoProperty" and isinstance(i.get("value"), dict)
        ]
        if geometries:
            result[iri] = geometries
    return result


def _with_identity(stored: Entity, fragment: Fragment, *, add_types: bool) -> Entity:
    """A shallow copy of the entity after checking the fragment's id and type against it."""
    if fragment.entity_id is not None and fragment.entity_id != stored["id"]:
        raise ProblemError("BadRequestData", "the entity id in the body differs from the one in the path")
    new = dict(stored)
    if fragment.types:
        missing = [t for t in fragment.types if t not in stored["type"]]
        if missing and not add_types:
            raise ProblemError("BadRequestData", "the entity type in the body differs from the entity's type")
        new["type"] = [*stored["type"], *missing]
    return new


def _finish(new: Entity, attrs: Attrs, now: str) -> Entity:
    new["attrs"] = attrs
    new["modifiedAt"] = now
    return new


def _set_scope(entity: Entity, scope: list[str]) -> None:
    if scope:
        entity["scope"] = scope
    else:
        entity.pop("scope", None)


def _put(attrs: Attrs, iri: str, instances: list[Instance]) -> None:
    if instances:
        attrs[iri] = instances
    else:
        attrs.pop(iri, None)


def _find(instances: list[Instance], dataset_id: str | None) -> int:
    for pos, instance in enumerate(instances):
        if instance.get("datasetId") == dataset_id:
            return pos
    return -1


def _existing(stored: Entity, attr_iri: str) -> list[Instance]:
    instances = stored["attrs"].get(attr_iri)
    if not instances:
        raise ProblemError("ResourceNotFound", f"entity {stored['id']} has no attribute {attr_iri}")
    return list(instances)


def _require(current: list[Instance], attr_iri: str, dataset_id: str | None) -> int:
    pos = _find(current, dataset_id)
    if pos < 0:
        which = f"instance with datasetId {dataset_id}" if dataset_id else "default instance"
        raise ProblemError("ResourceNotFound", f"attribute {attr_iri} has no {which}")
    return pos


def _replaced(old: Instance, new: Instance, now: str) -> Instance:
    """The new instance taking the old one's place: it keeps the old createdAt."""
    result = dict(new)
    result["createdAt"] = old.get("createdAt", now)
    result["modifiedAt"] = now
    return result


def _merge_instance(old: Instance, patch: Instance, now: str) -> Instance:
    """Merge-patch one instance: given members win, compound values and sub-attributes merge."""
    result = dict(old)
    kind = patch.get("type")
    if kind is not None and kind != old.get("type"):
        # A changed kind carries its own content member; the old one no longer applies.
        result.pop(CONTENT_MEMBER.get(str(old.get("type")), "value"), None)
        result.pop("objectType", None)
    for key, value in patch.items():
        if key in ("createdAt", "modifiedAt", "attrs"):
            continue
        previous = result.get(key)
        if (
            key in ("value", "languageMap")
            and isinstance(value, dict)
            and isinstance(previous, dict)
            and result.get("type") != "GeoProperty"
        ):
            result[key] = _json_merge(previous, value)
        else:
            result[key] = value
    if "attrs" in patch:
        subs = dict(old.get("attrs", {}))
        for sub_iri, sub in patch["attrs"].items():
            if is_null_instance(sub):
                subs.pop(sub_iri, None)
            elif sub_iri in subs:
                subs[sub_iri] = _merge_instance(subs[sub_iri], sub, now)
            else:
                subs[sub_iri] = _drop_nulls(sub)
        if subs:
            result["attrs"] = subs
        else:
            result.pop("attrs", None)
    result["createdAt"] = old.get("createdAt", now)
    result["modifiedAt"] = now
    return result


def _json_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 merge patch, with the NGSI-LD null deleting like JSON null."""
    result = dict(target)
    for key, value in patch.items():
        if value is None or value == NGSILD_NULL:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _json_merge(result[key], value)
        else:
            result[key] = _strip_json_nulls(value)
    return result


def _strip_json_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_json_nulls(v) for k, v in value.items() if v is not None and v != NGSILD_NULL}
    return value


def _drop_nulls(instance: Instance) -> Instance:
    """A new instance from a merge fragment, without the deletion markers that have nothing to delete."""
    result = dict(instance)
    for member in ("value", "languageMap"):
        if isinstance(result.get(member), dict) and result.get("type") != "GeoProperty":
            result[member] = _strip_json_nulls(result[member])
    if "attrs" in result:
        subs = {k: _drop_nulls(v) for k, v in result["attrs"].items() if not is_null_instance(v)}
        if subs:
            result["attrs"] = subs
        else:
            del result["attrs"]
    return result
