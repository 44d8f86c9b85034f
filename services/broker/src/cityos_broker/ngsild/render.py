"""Render stored entities as NGSI-LD responses: normalized / concise / keyValues, GeoJSON, projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cityos_broker.ngsild.attribute import CONTENT_MEMBER
from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, TermMap
from cityos_broker.ngsild.geojson import looks_like_geometry
from cityos_broker.ngsild.language import choose_language, parse_lang

Format = Literal["normalized", "concise", "keyValues"]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
ENTITY_MEMBER_NAMES = frozenset({"id", "type", "scope", "createdAt", "modifiedAt"})
_CONCISE_MEMBERS = frozenset(
    {"value", "object", "languageMap", "vocab", "valueList", "objectList", "json", "type"}
)


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
    if names is None:
        return None
    return frozenset(n if n in ENTITY_MEMBER_NAMES else terms.expand(n) for n in names)


class _Renderer:
    """One rendering pass: options and the language preference resolved once for many entities."""

    __slots__ = ("langs", "opts", "terms")

    def __init__(self, terms: TermMap, opts: RenderOptions) -> None:
        self.terms = terms
        self.opts = opts
        self.langs = parse_lang(opts.lang)

    def entity(self, stored: dict[str, Any]) -> dict[str, Any]:
        opts, terms = self.opts, self.terms
        pick, omit = opts.pick, opts.omit

        def wanted(member: str) -> bool:
            return (pick is None or member in pick) and (omit is None or member not in omit)

        out: dict[str, Any] = {}
        if wanted("id"):
            out["id"] = stored["id"]
        if wanted("type"):
            types = [terms.compact_vocab(t) for t in stored["type"]]
            out["type"] = types[0] if len(types) == 1 else types
        scope = stored.get("scope")
        if scope and wanted("scope"):
            out["scope"] = scope[0] if len(scope) == 1 else list(scope)
        if opts.sys_attrs:
            for member in ("createdAt", "modifiedAt"):
                if member in stored and wanted(member):
                    out[member] = stored[member]
        for iri, instances in stored["attrs"].items():
            if (opts.attrs is not None and iri not in opts.attrs) or not wanted(iri):
                continue
            if opts.dataset_id is not None:
                instances = [i for i in instances if i.get("datasetId", "@none") in opts.dataset_id]
            if instances:
                out[terms.compact(iri)] = self.attribute(instances)
        return out

    def attribute(self, instances: list[dict[str, Any]]) -> Any:
        fmt = self.opts.format
        if fmt == "keyValues":
            if len(instances) == 1:
                return self.simple(instances[0])
            return {"dataset": {i.get("datasetId", "@none"): self.simple(i) for i in instances}}
        if fmt == "concise":
            if len(instances) == 1:
                return self.concise(instances[0], as_object=False)
            return [self.concise(i, as_object=True) for i in instances]
        if len(instances) == 1:
            return self.normalized(instances[0])
        return [self.normalized(i) for i in instances]

    def _language(self, instance: dict[str, Any]) -> tuple[str, Any] | None:
        if self.langs is None or instance.get("type") != "LanguageProperty":
            return None
        return choose_language(instance["languageMap"], self.langs)

    def _members(self, instance: dict[str, Any], out: dict[str, Any], concise: bool) -> None:
        """The members every kind may carry: metadata, system attributes and sub-attributes."""
        for member in ("observedAt", "unitCode", "datasetId"):
            if member in instance:
                out[member] = instance[member]
        if "objectType" in instance:
            out["objectType"] = self._vocab(instance["objectType"])
        if self.opts.sys_attrs:
            for member in ("createdAt", "modifiedAt"):
                if member in instance:
                    out[member] = instance[member]
        for sub_iri, sub in instance.get("attrs", {}).items():
            name = self.terms.compact(sub_iri)
            out[name] = self.concise(sub, as_object=False) if concise else self.normalized(sub)

    def _vocab(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.terms.compact_vocab(v) for v in value]
        return self.terms.compact_vocab(value)

    def _content(self, kind: str, value: Any, normalized: bool) -> Any:
        if kind == "VocabProperty":
            return self._vocab(value)
        if kind == "ListRelationship" and normalized:
            return [{"object": uri} for uri in value]
        return value

    def normalized(self, instance: dict[str, Any]) -> dict[str, Any]:
        kind = instance.get("type", "Property")
        chosen = self._language(instance)
        if chosen is not None:
            out: dict[str, Any] = {"type": "Property", "value": chosen[1], "lang": chosen[0]}
        else:
            member = CONTENT_MEMBER[kind]
            out = {"type": kind, member: self._content(kind, instance.get(member), normalized=True)}
        self._members(instance, out, concise=False)
        return out

    def concise(self, instance: dict[str, Any], *, as_object: bool) -> Any:
        kind = instance.get("type", "Property")
        out: dict[str, Any] = {}
        chosen = self._language(instance)
        if chosen is not None:
            out["value"], out["lang"] = chosen[1], chosen[0]
        else:
            member = CONTENT_MEMBER[kind]
            content = self._content(kind, instance.get(member), normalized=False)
            out[member] = content
            if kind == "Property" and looks_like_geometry(content):
                out["type"] = "Property"  # without it a concise reader would take a GeoProperty
        self._members(instance, out, concise=True)
        if as_object or len(out) > 1:
            return out
        if kind == "GeoProperty":
            return out["value"]
        if kind == "Property" and _bare_value_ok(out["value"]):
            return out["value"]
        return out

    def simple(self, instance: dict[str, Any]) -> Any:
        kind = instance.get("type", "Property")
        chosen = self._language(instance)
        if chosen is not None:
            return chosen[1]
        member = CONTENT_MEMBER[kind]
        content = self._content(kind, instance.get(member), normalized=False)
        if kind in ("Property", "GeoProperty", "Relationship"):
            return content
        return {member: content}


def _bare_value_ok(value: Any) -> bool:
    """A concise Property may be its bare value only when a reader cannot mistake it for something else."""
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        return not any(isinstance(v, dict) and (_CONCISE_MEMBERS & v.keys()) for v in value)
    return True


def render_entity(stored: dict[str, Any], terms: TermMap, opts: RenderOptions) -> dict[str, Any]:
    """The response entity, compacted with `terms` (no @context member)."""
    return _Renderer(terms, opts).entity(stored)


def render_entities(
    stored: list[dict[str, Any]], terms: TermMap, opts: RenderOptions
) -> list[dict[str, Any]]:
    """Render many entities with one set of options."""
    renderer = _Renderer(terms, opts)
    return [renderer.entity(e) for e in stored]


def render_geojson(
    entities: list[dict[str, Any]] | dict[str, Any], terms: TermMap, opts: RenderOptions
) -> dict[str, Any]:
    """A GeoJSON Feature (one entity) or FeatureCollection (a list), geometry from opts.geometry_property."""
    renderer = _Renderer(terms, opts)
    if isinstance(entities, dict):
        return _feature(entities, renderer)
    return {"type": "FeatureCollection", "features": [_feature(e, renderer) for e in entities]}


def _feature(stored: dict[str, Any], renderer: _Renderer) -> dict[str, Any]:
    geometry: Any = None
    instances = stored["attrs"].get(renderer.opts.geometry_property) or []
    default = [i for i in instances if "datasetId" not in i] or instances
    if default and default[0].get("type") == "GeoProperty":
        geometry = default[0].get("value")
    properties = renderer.entity(stored)
    properties.pop("id", None)
    return {"id": stored["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def with_context(doc: dict[str, Any], terms: TermMap) -> dict[str, Any]:
    """A copy of a response document with its @context member (for application/ld+json)."""
    value = terms.context_value
    if value != CORE_CONTEXT_URL:
        items = value if isinstance(value, list) else [value]
        # The core context always applies; name it explicitly so any JSON-LD processor reads it right.
        value = [*items, CORE_CONTEXT_URL] if CORE_CONTEXT_URL not in items else items
    return {**doc, "@context": value}
