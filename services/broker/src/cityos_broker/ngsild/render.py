"""Render stored entities as NGSI-LD responses: normalized / concise / keyValues, GeoJSON, projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cityos_broker.ngsild.contexts import TermMap

Format = Literal["normalized", "concise", "keyValues"]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How to render an entity.

    attrs / pick / omit hold expanded attribute IRIs and the entity members "id", "type", "scope"
    (use `expand_names`); dataset_id holds datasetIds, "@none" meaning the default instance.
    lang is the raw `lang` parameter ("ja", "en,ja;q=0.5", "*"); None renders LanguageProperty as is.
    """

    format: Format = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None
    pick: frozenset[str] | None = None
    omit: frozenset[str] | None = None
    lang: str | None = None
    geometry_property: str = LOCATION
    dataset_id: frozenset[str] | None = None


def expand_names(names: list[str] | None, terms: TermMap) -> frozenset[str] | None:
    """Expand attrs / pick / omit names, keeping the entity members id, type and scope as they are."""
    raise NotImplementedError


def render_entity(stored: dict[str, Any], terms: TermMap, opts: RenderOptions) -> dict[str, Any]:
    """The response entity, compacted with `terms` (no @context member)."""
    raise NotImplementedError


def render_geojson(
    entities: list[dict[str, Any]] | dict[str, Any], terms: TermMap, opts: RenderOptions
) -> dict[str, Any]:
    """A GeoJSON Feature (one entity) or FeatureCollection (a list), geometry from opts.geometry_property."""
    raise NotImplementedError


def with_context(doc: dict[str, Any], terms: TermMap) -> dict[str, Any]:
    """A copy of a response document with its @context member (for application/ld+json)."""
    raise NotImplementedError
