"""Pure edits of stored entities: each returns a new stored form and never mutates its inputs."""

from __future__ import annotations

from typing import Any

from cityos_broker.ngsild.entity import Attrs, Fragment, Instance

Entity = dict[str, Any]
NotUpdated = tuple[str, str]


def merge_entity(stored: Entity, fragment: Fragment, now: str) -> Entity:
    """PATCH /entities/{id} (merge-patch): add or merge attributes; null markers delete."""
    raise NotImplementedError


def replace_entity(stored: Entity, replacement: Entity, now: str) -> Entity:
    """PUT /entities/{id}: the replacement's attributes and types, keeping the entity's createdAt."""
    raise NotImplementedError


def append_attributes(
    stored: Entity, fragment: Fragment, now: str, *, no_overwrite: bool = False
) -> tuple[Entity, list[str], list[NotUpdated]]:
    """POST /entities/{id}/attrs: add attributes (kept when no_overwrite): (new, updated, not updated)."""
    raise NotImplementedError


def update_attributes(
    stored: Entity, fragment: Fragment, now: str
) -> tuple[Entity, list[str], list[NotUpdated]]:
    """PATCH /entities/{id}/attrs: replace only existing attribute instances; others are not updated."""
    raise NotImplementedError


def partial_update_attribute(stored: Entity, attr_iri: str, instances: list[Instance], now: str) -> Entity:
    """PATCH /entities/{id}/attrs/{attrId}: merge members into the matching instances (404 if missing)."""
    raise NotImplementedError


def replace_attribute(stored: Entity, attr_iri: str, instances: list[Instance], now: str) -> Entity:
    """PUT /entities/{id}/attrs/{attrId}: replace the matching instances (404 if missing)."""
    raise NotImplementedError


def delete_attribute(
    stored: Entity, attr_iri: str, now: str, *, dataset_id: str | None = None, delete_all: bool = False
) -> Entity:
    """DELETE /entities/{id}/attrs/{attrId}: default or given datasetId instance, or all (404 if missing)."""
    raise NotImplementedError


def entity_types(stored: Entity) -> list[str]:
    """The entity's expanded type IRIs."""
    raise NotImplementedError


def attribute_names(stored: Entity) -> list[str]:
    """The entity's expanded attribute IRIs."""
    raise NotImplementedError


def geo_values(stored: Entity) -> dict[str, list[dict[str, Any]]]:
    """GeoJSON geometries of every GeoProperty instance, by attribute IRI."""
    raise NotImplementedError


__all__ = ["Attrs", "Entity", "NotUpdated"]
